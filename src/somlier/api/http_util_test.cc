// Tests of the API's request readers and response helpers: integer fields checked before
// conversion (Fields, log-batch, train requests; deploy's in tests/e2e/test_limits.py), and the
// download's Content-Disposition.
#include "somlier/api/http_util.h"

#include <gtest/gtest.h>

#include "somlier/api/fields.h"
#include "somlier/api/log_batch_parser.h"
#include "somlier/api/train_api.h"
#include "somlier/api/use_cases.h"

namespace somlier::api {
namespace {

bool Contains(const Status& status, std::string_view fragment) {
  return status.message().find(fragment) != std::string::npos;
}

TEST(ContentDisposition, QuotesEscapesAndEncodes) {
  EXPECT_EQ(ContentDispositionAttachment("model.pkl"), "attachment; filename=\"model.pkl\"");
  EXPECT_EQ(ContentDispositionAttachment("my file;x=1.txt"),
            "attachment; filename=\"my file;x=1.txt\"")
      << "';' and spaces stay inside the quotes";
  EXPECT_EQ(ContentDispositionAttachment(R"(a"b\c.txt)"), R"(attachment; filename="a\"b\\c.txt")");
  EXPECT_EQ(ContentDispositionAttachment("evil\r\nSet-Cookie: x=1\t.txt"),
            "attachment; filename=\"evilSet-Cookie: x=1.txt\"")
      << "control characters (a header injection) are dropped";
  EXPECT_EQ(ContentDispositionAttachment("\xeb\xaa\xa8\xeb\x8d\xb8 v1.pkl"),  // "모델 v1.pkl"
            "attachment; filename=\"__ v1.pkl\"; filename*=UTF-8''%EB%AA%A8%EB%8D%B8%20v1.pkl");
  EXPECT_EQ(ContentDispositionAttachment("\x01"), "attachment; filename=\"download\"");
}

TEST(Fields, IntegersAreRangeCheckedBeforeConversion) {
  auto f = Fields::FromJsonBody(
      R"({"small": 12, "text": "34", "huge": 18446744073709551615, "frac": 1.5,
          "float": 2.0, "neg": -3, "word": "x"})");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(**f->Int("small"), 12);
  EXPECT_EQ(**f->Int("text"), 34) << "protobuf JSON spells int64 as strings";
  EXPECT_EQ(**f->Int("float"), 2);
  EXPECT_FALSE(f->Int("absent")->has_value());
  EXPECT_EQ(f->Int("huge").status().message(),
            "'huge' is 18446744073709551615, out of range: expected an integer from "
            "-9223372036854775808 to 9223372036854775807");
  EXPECT_TRUE(Contains(f->Int("frac").status(), "'frac' is 1.5, not a whole number"));
  EXPECT_TRUE(Contains(f->Int("neg", kNonNegative).status(),
                       "'neg' is -3, out of range: expected an integer from 0 to"));
  EXPECT_TRUE(Contains(f->Int("word").status(), "'word' must be an integer, not \"x\""));
  // Ids given as numbers are spelled exactly, not wrapped.
  EXPECT_EQ(*f->String("huge"), "18446744073709551615");
}

TEST(Fields, NestedMessagesNameTheirFieldsByPath) {
  auto f = Fields::FromJsonBody(R"({"datasets": [
      {"dataset": {"name": "iris", "digest": 7}, "tags": [{"key": "k", "value": "v"}]},
      {"dataset": {"name": "wine"}},
      {"dataset": []},
      5]})");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->ObjectList("absent")->empty());
  EXPECT_FALSE(f->Object("absent")->has_value());
  auto items = f->ObjectList("datasets");
  ASSERT_FALSE(items.ok()) << "the fourth item is not an object";
  EXPECT_EQ(items.status().message(),
            "Invalid value 5 for parameter 'datasets[3]' supplied: expected an object");

  auto first = Fields::FromJsonBody(R"({"datasets": [
      {"dataset": {"name": "iris", "digest": 7}, "tags": [{"key": "k", "value": "v"}]},
      {"dataset": {"name": "wine"}, "tags": [{"value": "v"}]},
      {"dataset": []}]})");
  ASSERT_TRUE(first.ok());
  auto list = first->ObjectList("datasets");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 3u);
  auto dataset = (*list)[0].Object("dataset");
  ASSERT_TRUE(dataset.ok() && dataset->has_value());
  EXPECT_EQ(*(*dataset)->RequiredString("name"), "iris");
  EXPECT_EQ(*(*dataset)->RequiredString("digest"), "7") << "numbers are spelled, as for ids";
  EXPECT_EQ((*dataset)->RequiredString("source").status().message(),
            "Missing value for required parameter 'datasets[0].dataset.source'. See the API docs "
            "for more information about request parameters.");
  EXPECT_EQ(*(*list)[0].TagList("tags"), (std::vector<Tag>{{"k", "v"}}));
  EXPECT_TRUE(Contains((*list)[1].TagList("tags").status(), "'datasets[1].tags.key'"));
  EXPECT_EQ((*list)[2].Object("dataset").status().message(),
            "Invalid value [] for parameter 'datasets[2].dataset' supplied: expected an object");
  auto seed = Fields::FromJsonBody(R"({"a": {"b": 1}})", FieldDialect::kSomlier);
  EXPECT_EQ((*seed->Object("a"))->RequiredString("c").status().message(), "'a.c' is required");
}

TEST(LogBatchParser, IntegersAreRangeCheckedBeforeConversion) {
  auto parse = [](std::string_view metric) {
    return ParseLogBatch(std::string(R"({"run_id": "r", "metrics": [)") + std::string(metric) +
                         "]}");
  };
  EXPECT_EQ(
      parse(R"({"key": "m", "value": 1, "timestamp": 9223372036854775807})")->metrics[0].timestamp,
      INT64_MAX);
  EXPECT_EQ(parse(R"({"key": "m", "value": 1, "timestamp": 5, "step": -2})")->metrics[0].step, -2);
  const Status wrapped =
      parse(R"({"key": "m", "value": 1, "timestamp": 18446744073709551615})").status();
  EXPECT_EQ(wrapped.message(),
            "'metrics[0].timestamp' is 18446744073709551615, out of range: expected an integer "
            "from 0 to 9223372036854775807");
  EXPECT_TRUE(Contains(parse(R"({"key": "m", "value": 1, "timestamp": 1e19})").status(),
                       "'metrics[0].timestamp' is 1e+19, out of range"));
  EXPECT_TRUE(Contains(parse(R"({"key": "m", "value": 1, "timestamp": -1})").status(),
                       "'metrics[0].timestamp' is -1, out of range"));
  EXPECT_TRUE(Contains(parse(R"({"key": "m", "value": 1, "timestamp": 1, "step": 1e300})").status(),
                       "'metrics[0].step' is 1e+300, out of range"));
  EXPECT_TRUE(
      Contains(parse(R"({"key": "m", "value": 1, "timestamp": "99999999999999999999"})").status(),
               "out of range"));
  EXPECT_TRUE(Contains(parse(R"({"key": "m", "value": 1, "timestamp": true})").status(),
                       "'metrics[0].timestamp' must be an integer from 0 to"));
}

TEST(TrainRequest, IntegersAreRangeCheckedBeforeConversion) {
  auto train = [](std::string_view extra) {
    auto fields = Fields::FromJsonBody(
        R"({"project_name": "p", "project_ref": "main", )" + std::string(extra) + "}",
        FieldDialect::kSomlier);
    EXPECT_TRUE(fields.ok());
    return TrainRequestFromFields(*fields);
  };
  EXPECT_EQ(train(R"("max_parallel": 4, "timeout": 60)")->max_parallel, 4);
  EXPECT_EQ(train(R"("max_parallel": 4, "timeout": 60)")->timeout.count(), 60);
  EXPECT_TRUE(Contains(train(R"("max_parallel": 2147483648)").status(),
                       "'max_parallel' is 2147483648, out of range: expected an integer from 0 "
                       "to 2147483647"));
  EXPECT_TRUE(Contains(train(R"("max_parallel": 4294967297)").status(), "out of range"))
      << "would have wrapped to 1";
  EXPECT_TRUE(Contains(train(R"("timeout": 18446744073709551615)").status(),
                       "'timeout' is 18446744073709551615, out of range"));
  EXPECT_TRUE(Contains(train(R"("timeout": -1)").status(), "'timeout' is -1, out of range"));
  EXPECT_TRUE(Contains(train(R"("max_parallel": 1.5)").status(), "not a whole number"));
}

TEST(Fields, EachDialectReadsAndAnswersInItsOwnWords) {
  const std::string body = R"({"run_id": 123, "top": "5", "name": ""})";
  auto mlflow = Fields::FromJsonBody(body, FieldDialect::kMlflow);
  auto somlier = Fields::FromJsonBody(body, FieldDialect::kSomlier);
  ASSERT_TRUE(mlflow.ok() && somlier.ok());
  // MLflow's clients send ids as numbers and int64s as strings; the seed's API took JSON types.
  EXPECT_EQ(*mlflow->String("run_id"), "123");
  EXPECT_EQ(**mlflow->Int("top"), 5);
  EXPECT_EQ(somlier->String("run_id").status().message(), "'run_id' must be a string, not 123");
  EXPECT_TRUE(Contains(somlier->Int("top").status(), "'top' must be an integer"));
  EXPECT_EQ(somlier->RequiredString("name").status().message(), "'name' is required");
  EXPECT_TRUE(Contains(mlflow->RequiredString("name").status(),
                       "Missing value for required parameter 'name'"));
  // MLflow's routes take an empty body as {}; SoMLier's endpoints want a JSON object.
  EXPECT_TRUE(Fields::FromJsonBody("", FieldDialect::kMlflow).ok());
  EXPECT_FALSE(Fields::FromJsonBody("", FieldDialect::kSomlier).ok());
  EXPECT_EQ(Fields::FromJsonBody("[1]", FieldDialect::kSomlier).status().message(),
            "the request body must be a JSON object");
}

TEST(UseCases, EveryUseCaseRefusesAnUnknownFieldNamingItAndTheAcceptedOnes) {
  auto fields = Fields::FromJsonBody(R"({"bogus_field": 1})", FieldDialect::kSomlier);
  ASSERT_TRUE(fields.ok());
  ASSERT_FALSE(AllUseCases().empty());
  for (const UseCase& use_case : AllUseCases()) {
    // The fields are checked before anything runs: no service is needed to refuse them.
    Result<nlohmann::json> answer = RunUseCase(use_case, UseCaseServices{}, *fields);
    ASSERT_FALSE(answer.ok()) << use_case.path;
    EXPECT_EQ(answer.status().http_status(), 422) << use_case.path;
    EXPECT_TRUE(Contains(answer.status(), "unknown field 'bogus_field' (accepted: "))
        << use_case.path << ": " << answer.status().message();
    for (std::string_view accepted : use_case.fields) {
      EXPECT_TRUE(Contains(answer.status(), accepted)) << use_case.path << " lists " << accepted;
    }
  }
  EXPECT_EQ(FindUseCase("/train")->fields.size(), std::size(kTrainFields));
  EXPECT_EQ(FindUseCase("/nope"), nullptr);
}

TEST(UseCases, AUseCaseWhoseServiceIsAbsentIsNotOffered) {
  auto empty = Fields::FromJsonBody("{}", FieldDialect::kSomlier);
  ASSERT_TRUE(empty.ok());
  Result<nlohmann::json> answer = RunUseCase(*FindUseCase("/deployments/list"), {}, *empty);
  EXPECT_EQ(answer.status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace somlier::api
