#include "storage/xml.h"

#include <expat.h>

#include <memory>
#include <utility>

namespace kumo::storage {
namespace {

constexpr size_t kMaxDepth = 16;

struct ParseState {
  std::vector<XmlElement*> stack;  // open elements, the root first
  XmlElement root;
  bool has_root = false;
  bool too_deep = false;
  XML_Parser parser = nullptr;
};

std::string local_name(const char* name) {
  std::string_view n(name);
  size_t colon = n.rfind(':');
  return std::string(colon == std::string_view::npos ? n : n.substr(colon + 1));
}

void on_start(void* data, const char* name, const char** /*attributes*/) {
  auto* st = static_cast<ParseState*>(data);
  if (st->stack.size() >= kMaxDepth) {
    st->too_deep = true;
    XML_StopParser(st->parser, XML_FALSE);
    return;
  }
  XmlElement* element = nullptr;
  if (st->stack.empty()) {
    st->has_root = true;
    element = &st->root;
  } else {
    element = &st->stack.back()->children.emplace_back();
  }
  element->name = local_name(name);
  st->stack.push_back(element);
}

void on_end(void* data, const char* /*name*/) {
  auto* st = static_cast<ParseState*>(data);
  if (!st->stack.empty()) st->stack.pop_back();
}

void on_text(void* data, const char* text, int len) {
  auto* st = static_cast<ParseState*>(data);
  if (!st->stack.empty()) st->stack.back()->text.append(text, static_cast<size_t>(len));
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\r':
        out += "&#13;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

XmlWriter::XmlWriter(std::string_view root) : root_(root) {
  out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<";
  out_ += root_;
  out_ += " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
}

XmlWriter& XmlWriter::open(std::string_view tag) {
  out_ += '<';
  out_ += tag;
  out_ += '>';
  return *this;
}

XmlWriter& XmlWriter::close(std::string_view tag) {
  out_ += "</";
  out_ += tag;
  out_ += '>';
  return *this;
}

XmlWriter& XmlWriter::leaf(std::string_view tag, std::string_view text) {
  open(tag);
  out_ += xml_escape(text);
  return close(tag);
}

std::string XmlWriter::finish() {
  close(root_);
  return std::move(out_);
}

const XmlElement* XmlElement::child(std::string_view wanted) const {
  for (const auto& c : children) {
    if (c.name == wanted) return &c;
  }
  return nullptr;
}

S3Result<XmlElement> parse_xml(std::string_view document) {
  std::unique_ptr<XML_ParserStruct, decltype(&XML_ParserFree)> parser(XML_ParserCreate("UTF-8"),
                                                                      &XML_ParserFree);
  if (!parser) return internal_error("cannot create an XML parser");
  ParseState st;
  st.parser = parser.get();
  XML_SetUserData(parser.get(), &st);
  XML_SetElementHandler(parser.get(), on_start, on_end);
  XML_SetCharacterDataHandler(parser.get(), on_text);
  bool ok = XML_Parse(parser.get(), document.data(), static_cast<int>(document.size()), XML_TRUE) ==
            XML_STATUS_OK;
  if (st.too_deep) return s3_error("MalformedXML", "the XML body nests too deeply");
  if (!ok || !st.has_root) {
    std::string why = st.has_root || document.find('<') != std::string_view::npos
                          ? XML_ErrorString(XML_GetErrorCode(parser.get()))
                          : "the body is empty";
    return s3_error("MalformedXML",
                    "the XML you provided was not well-formed or did not validate: " + why);
  }
  return std::move(st.root);
}

}  // namespace kumo::storage
