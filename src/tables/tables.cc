// Placeholder so the library exists before its first source lands; remove when one does.
namespace kumo::tables {}
