// The XML S3 speaks: a small writer for response bodies and a parser (expat) into a plain
// element tree for the few request bodies that carry XML (CompleteMultipartUpload,
// DeleteObjects, CreateBucketConfiguration). Values and pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "storage/s3_error.h"

namespace kumo::storage {

// Escapes character data (&, <, > and CR); the writer puts no text in attributes.
std::string xml_escape(std::string_view text);

// Builds a document: XmlWriter w("ListBucketResult"); w.leaf("Name", b); ...; w.finish().
// The root carries S3's namespace.
class XmlWriter {
 public:
  explicit XmlWriter(std::string_view root);
  XmlWriter& open(std::string_view tag);
  XmlWriter& close(std::string_view tag);
  XmlWriter& leaf(std::string_view tag, std::string_view text);
  // Closes the root and returns the document.
  std::string finish();

 private:
  std::string root_;
  std::string out_;
};

struct XmlElement {
  std::string name;  // without a namespace prefix
  std::string text;  // the element's own character data, concatenated
  std::vector<XmlElement> children;

  // The first child named `name`, or nullptr.
  const XmlElement* child(std::string_view name) const;
};

// MalformedXML for a document that is not well-formed or nests deeper than 16 levels.
S3Result<XmlElement> parse_xml(std::string_view document);

}  // namespace kumo::storage
