#include <gtest/gtest.h>

#include "cli/render.h"

namespace kumo::cli {
namespace {

using nlohmann::json;

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kNow = 1'800'000'000 * kSecond;

TEST(RenderKeyList, ShowsEachKeyWithTheOperatorsMarkedAndNoSecret) {
  json reply = {{"keys",
                 {{{"id", "kk_aaaaaaaaaaaaaaaa"},
                   {"tenant", ""},
                   {"name", "admin"},
                   {"scopes", {"admin"}},
                   {"created_us", kNow - 3600 * kSecond},
                   {"last_used_us", kNow - 60 * kSecond},
                   {"expires_us", nullptr},
                   {"revoked_us", nullptr}},
                  {{"id", "kk_bbbbbbbbbbbbbbbb"},
                   {"tenant", "acme"},
                   {"name", "ci"},
                   {"scopes", {"invoke:function/hello", "read"}},
                   {"created_us", kNow},
                   {"last_used_us", nullptr},
                   {"expires_us", kNow + 30 * 86'400 * kSecond - 5 * kSecond},
                   {"revoked_us", kNow}}}}};
  EXPECT_EQ(render_key_list(reply, kNow, Style{}).value(),
            "ID                   TENANT      NAME   SCOPES                      CREATED   "
            "LAST USED  EXPIRES  REVOKED\n"
            "kk_aaaaaaaaaaaaaaaa  (operator)  admin  admin                       1h ago    "
            "1m ago     never    -\n"
            "kk_bbbbbbbbbbbbbbbb  acme        ci     invoke:function/hello,read  just now  "
            "never      in 30d   just now\n");
}

TEST(RenderNewKey, PrintsTheTokenAndHowToUseIt) {
  json reply = {{"id", "kk_bbbbbbbbbbbbbbbb"},
                {"tenant", "acme"},
                {"name", "ci"},
                {"scopes", {"deploy"}},
                {"created_us", kNow},
                {"expires_us", nullptr},
                {"token", "kumo_kk_bbbbbbbbbbbbbbbb_secret"}};
  std::string text = render_new_key(reply, kNow, Style{}).value();
  EXPECT_NE(text.find("created key kk_bbbbbbbbbbbbbbbb \"ci\" of tenant acme: deploy; never "
                      "expires"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\n  kumo_kk_bbbbbbbbbbbbbbbb_secret\n"), std::string::npos) << text;
  EXPECT_NE(text.find("export KUMO_API_KEY=kumo_kk_bbbbbbbbbbbbbbbb_secret"), std::string::npos);
}

TEST(RenderAudit, ShowsWhoWhatAndFromWhereWithRefusalsExplainedBelow) {
  json reply = {{"records",
                 {{{"seq", 1},
                   {"time_us", kNow},
                   {"key_id", "kk_aaaaaaaaaaaaaaaa"},
                   {"tenant", ""},
                   {"action", "function.deploy"},
                   {"target", "hello"},
                   {"remote", "127.0.0.1"},
                   {"status", 201},
                   {"detail", ""}},
                  {{"seq", 2},
                   {"time_us", kNow},
                   {"key_id", "anonymous"},
                   {"tenant", ""},
                   {"action", "function.remove"},
                   {"target", "hello"},
                   {"remote", "10.0.0.9"},
                   {"status", 401},
                   {"detail", "this needs an API key"}}}}};
  std::string text = render_audit(reply, Style{}).value();
  EXPECT_NE(
      text.find("kk_aaaaaaaaaaaaaaaa  (operator)  function.deploy  hello   127.0.0.1     201"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("function.remove hello: this needs an API key"), std::string::npos) << text;
  EXPECT_NE(text.find("anonymous            -           function.remove"), std::string::npos)
      << "a 401's tenant is not known: " << text;
}

TEST(RenderAudit, SaysSoWhenThereIsNothing) {
  EXPECT_EQ(render_audit(json{{"records", json::array()}}, Style{}).value(),
            "no audit records in that period\n");
}

TEST(RenderKeyList, AReplyOfAnotherShapeIsAnErrorNotACrash) {
  EXPECT_FALSE(render_key_list(json{{"keys", {{{"scopes", 5}}}}}, kNow, Style{}));
}

}  // namespace
}  // namespace kumo::cli
