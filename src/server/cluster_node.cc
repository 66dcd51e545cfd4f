#include "server/cluster_node.h"

#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "http/handler.h"

namespace kumo::server {
namespace {

using nlohmann::json;

Error bad(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, "cluster: " + std::move(message));
}

// A list of URLs, as a YAML list or a comma-separated string.
Result<std::vector<std::string>> url_list(const json& value) {
  std::vector<std::string> out;
  if (value.is_string()) {
    std::string text = value.get<std::string>();
    for (size_t at = 0; at <= text.size();) {
      size_t comma = std::min(text.find(',', at), text.size());
      if (comma > at) out.push_back(text.substr(at, comma - at));
      at = comma + 1;
    }
    return out;
  }
  if (!value.is_array()) return bad("etcd: a list of URLs");
  for (const auto& url : value) {
    if (!url.is_string()) return bad("etcd: a list of URLs");
    out.push_back(url.get<std::string>());
  }
  return out;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "kumo";
  return name;
}

}  // namespace

Result<ClusterOptions> parse_cluster_section(const json& section) {
  ClusterOptions out;
  if (section.is_null()) return out;
  if (!section.is_object()) return bad("expected a map (etcd, node_id, advertise)");
  out.enabled = true;
  for (const auto& [key, value] : section.items()) {
    if (key == "etcd") {
      auto urls = url_list(value);
      if (!urls) return urls.error();
      out.etcd = *urls;
    } else if ((key == "node_id" || key == "advertise" || key == "nats") && value.is_string()) {
      (key == "node_id" ? out.node_id : key == "nats" ? out.nats : out.advertise) =
          value.get<std::string>();
    } else {
      return bad(fmt::format("unknown or malformed key '{}' (known: etcd, nats, node_id, advertise)",
                             key));
    }
  }
  return out;
}

void apply_cluster_flags(bool cluster, const std::string& etcd, const std::string& nats,
                         const std::string& node_id, const std::string& advertise,
                         ClusterOptions& options) {
  if (cluster) options.enabled = true;
  if (!etcd.empty()) options.etcd = *url_list(json(etcd));
  if (!nats.empty()) options.nats = nats;
  if (!node_id.empty()) options.node_id = node_id;
  if (!advertise.empty()) options.advertise = advertise;
}

Result<void> check_cluster_options(const ClusterOptions& options) {
  if (!options.enabled) return {};
  if (options.etcd.empty()) {
    return bad("cluster mode needs etcd: --etcd http://HOST:2379[,...] or `cluster: {etcd: [...]}`");
  }
  for (const auto& url : options.etcd) {
    if (auto endpoint = http::parse_base_url(url); !endpoint) {
      return bad(fmt::format("etcd endpoint '{}': {}", url, endpoint.error().message));
    }
  }
  if (options.node_id.find('/') != std::string::npos) return bad("node_id may not contain '/'");
  if (!options.nats.empty() && !options.nats.starts_with("nats://")) {
    return bad(fmt::format("nats: a nats://HOST:PORT URL, got '{}'", options.nats));
  }
  return {};
}

Result<std::unique_ptr<ClusterNode>> ClusterNode::open(const ClusterOptions& options) {
  if (auto ok = check_cluster_options(options); !ok) return ok.error();
  auto etcd = cluster::Etcd::open(options.etcd);
  if (!etcd) return etcd.error();
  return std::unique_ptr<ClusterNode>(new ClusterNode(options, std::move(*etcd)));
}

Result<void> ClusterNode::join(const std::string& listen_url, int port) {
  id_ = options_.node_id.empty() ? fmt::format("{}-{}", host_name(), port) : options_.node_id;
  std::string url = options_.advertise.empty() ? listen_url : options_.advertise;
  auto joined = cluster::Membership::join(*etcd_, {id_, url});
  if (!joined) return bad(fmt::format("joining as node {}: {}", id_, joined.error().message));
  membership_ = std::move(*joined);
  spdlog::info("cluster: joined as node {} ({}); {} node(s) live", id_, url,
               membership_->nodes().size());
  return {};
}

Result<void> ClusterNode::follow(functions::Functions& functions) {
  if (options_.nats.empty()) return {};
  auto packages = cluster::PackageStore::open({options_.nats});
  if (!packages) return bad(packages.error().message);
  catalogue_ = std::make_unique<cluster::FunctionCatalogue>(*etcd_);
  sync_ = std::make_unique<ClusterSync>(functions, *catalogue_, std::move(*packages));
  functions_ = &functions;
  functions.set_publisher(sync_.get());
  return sync_->start();
}

void ClusterNode::leave() {
  if (membership_) spdlog::info("cluster: node {} leaving", id_);
  membership_.reset();
  if (functions_ != nullptr) functions_->set_publisher(nullptr);
  sync_.reset();
}

std::vector<cluster::NodeInfo> ClusterNode::nodes() const {
  return membership_ ? membership_->nodes() : std::vector<cluster::NodeInfo>{};
}

void add_cluster_routes(http::Router& router, const auth::Access& access,
                        const ClusterNode* node) {
  router.add("GET", "/api/v1/cluster",
             [&access, node](http::Request&& req, std::shared_ptr<http::Responder> res) {
               auto caller = auth::admit(access, req, auth::Action::kRead,
                                         auth::Resource::server(), *res);
               if (!caller) return;
               if (!caller->is_operator()) {
                 return res->send(auth::refusal(make_error(
                     ErrorCode::kPermissionDenied,
                     "the cluster's nodes are the operator's; this key is a tenant's")));
               }
               if (node == nullptr) return res->send(http::json_response(200, {{"mode", "single"}}));
               json nodes = json::array();
               for (const auto& n : node->nodes()) nodes.push_back({{"id", n.id}, {"url", n.url}});
               res->send(http::json_response(
                   200, {{"mode", "cluster"}, {"node", node->id()}, {"nodes", nodes}}));
             });
}

}  // namespace kumo::server
