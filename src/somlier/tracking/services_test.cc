// Tests of the tracking and registry services: MLflow's search grammar, validation rules,
// page tokens, and the semantics the services add on top of the Store (on SQLite).
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "somlier/core/base64.h"
#include "somlier/registry/registry_service.h"
#include "somlier/tracking/paging.h"
#include "somlier/tracking/search_syntax.h"
#include "somlier/tracking/tracking_service.h"
#include "somlier/tracking/validation.h"
#include "temp_dir.h"
#include "tracking_fixture.h"

namespace somlier {
namespace {

// ---- Search syntax ----------------------------------------------------------------------

TEST(SearchSyntax, RunFilters) {
  auto f = ParseSearchFilter(
      SearchKind::kRuns,
      "metrics.rmse < 1 and params.model_class = 'LogisticRegression' AND tags.\"user-name\" "
      "!= 'Tomas' and attributes.run_id IN ('abc', 'def') and metric.`val loss` >= -2.5e-1 "
      "and attributes.\"Run Name\" LIKE 'grid-%' and created > 1000 and params.x ILIKE \"%a''b%\"");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->size(), 8u);
  EXPECT_EQ((*f)[0].kind, FieldKind::kMetric);
  EXPECT_EQ((*f)[0].key, "rmse");
  EXPECT_EQ((*f)[0].op, CompareOp::kLt);
  EXPECT_EQ(std::get<double>((*f)[0].values[0]), 1.0);
  EXPECT_EQ((*f)[1].kind, FieldKind::kParam);
  EXPECT_EQ(std::get<std::string>((*f)[1].values[0]), "LogisticRegression");
  EXPECT_EQ((*f)[2].key, "user-name");
  EXPECT_EQ((*f)[2].op, CompareOp::kNe);
  EXPECT_EQ((*f)[3].op, CompareOp::kIn);
  EXPECT_EQ((*f)[3].values.size(), 2u);
  EXPECT_EQ((*f)[4].key, "val loss");
  EXPECT_EQ(std::get<double>((*f)[4].values[0]), -0.25);
  EXPECT_EQ((*f)[5].key, "run_name");
  EXPECT_EQ((*f)[5].op, CompareOp::kLike);
  EXPECT_EQ((*f)[6].key, "start_time");
  EXPECT_EQ(std::get<int64_t>((*f)[6].values[0]), 1000);
  EXPECT_EQ(std::get<std::string>((*f)[7].values[0]), "%a''b%") << "a '' inside \" stays";
  EXPECT_TRUE(ParseSearchFilter(SearchKind::kRuns, "  ")->empty());
  EXPECT_EQ(std::get<std::string>(
                (*ParseSearchFilter(SearchKind::kRuns, "tags.t = 'it''s'"))[0].values[0]),
            "it's");
}

TEST(SearchSyntax, RejectsWhatMlflowRejects) {
  for (const char* bad : {
           "metrics.rmse < 'one'",      // metrics compare to numbers
           "params.lr > '0.1'",         // strings have no order
           "metrics.rmse LIKE '1%'",    // no LIKE on numbers
           "params.lr IN ('a')",        // IN is for attributes
           "attributes.color = 'red'",  // not an attribute
           "datasets.size = 'x'",       // datasets have a name, digest and context
           "datasets.name > 'x'",       // strings have no order
           "datasets.digest = 12",      // dataset fields are strings
           "metrics.a < 1 OR metrics.b < 1",
           "metrics.a < 1 metrics.b < 1",
           "metrics.a <",
           "metrics.a ~ 1",
           "params.x = 'open",
           "start_time > 1.5",
           "run_id IN 'a'",
       }) {
    auto f = ParseSearchFilter(SearchKind::kRuns, bad);
    EXPECT_FALSE(f.ok()) << bad;
    if (!f.ok()) {
      EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument) << bad;
      EXPECT_NE(f.status().message().find(bad), std::string::npos) << f.status().message();
    }
  }
}

TEST(SearchSyntax, DatasetFilters) {
  auto f = ParseSearchFilter(SearchKind::kRuns,
                             "datasets.name = 'iris' and dataset.digest IN ('a1', 'b2') and "
                             "datasets.context LIKE 'train%' and datasets.`name` NOT IN ('x')");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->size(), 4u);
  for (const Filter& filter : *f) EXPECT_EQ(filter.kind, FieldKind::kDataset);
  EXPECT_EQ((*f)[0].key, "name");
  EXPECT_EQ(std::get<std::string>((*f)[0].values[0]), "iris");
  EXPECT_EQ((*f)[1].key, "digest");
  EXPECT_EQ((*f)[1].op, CompareOp::kIn);
  EXPECT_EQ((*f)[1].values.size(), 2u);
  EXPECT_EQ((*f)[2].key, "context");
  EXPECT_EQ((*f)[2].op, CompareOp::kLike);
  EXPECT_EQ((*f)[3].op, CompareOp::kNotIn);
  EXPECT_FALSE(ParseOrderBy(SearchKind::kRuns, {"datasets.name"}).ok()) << "not an order";
  EXPECT_FALSE(ParseSearchFilter(SearchKind::kExperiments, "datasets.name = 'x'").ok());
  EXPECT_FALSE(ParseSearchFilter(SearchKind::kModelVersions, "dataset.name = 'x'").ok());
}

TEST(SearchSyntax, OtherSearches) {
  auto e = ParseSearchFilter(SearchKind::kExperiments, "name LIKE 'proj%' and tags.team = 'ml'");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ((*e)[1].kind, FieldKind::kTag);
  EXPECT_FALSE(ParseSearchFilter(SearchKind::kExperiments, "metrics.a > 1").ok());
  EXPECT_TRUE(ParseSearchFilter(SearchKind::kRegisteredModels, "name = 'm'").ok());
  EXPECT_FALSE(ParseSearchFilter(SearchKind::kRegisteredModels, "run_id = 'x'").ok());
  auto v = ParseSearchFilter(SearchKind::kModelVersions,
                             "name='m' and run_id IN ('a','b') and source_path = 's3://x'");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ((*v)[2].key, "source_path");
}

TEST(SearchSyntax, OrderBy) {
  auto o = ParseOrderBy(SearchKind::kRuns, {"metrics.rmse DESC", "params.alpha",
                                            "attributes.start_time asc", "metrics.`val loss`"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_FALSE((*o)[0].ascending);
  EXPECT_EQ((*o)[1].kind, FieldKind::kParam);
  EXPECT_TRUE((*o)[2].ascending);
  EXPECT_EQ((*o)[3].key, "val loss");
  EXPECT_FALSE(ParseOrderBy(SearchKind::kRuns, {"metrics.rmse DESC DESC"}).ok());
  EXPECT_FALSE(ParseOrderBy(SearchKind::kRuns, {"metrics.a", "metrics.a DESC"}).ok());
  EXPECT_TRUE(ParseOrderBy(SearchKind::kRegisteredModels, {"timestamp DESC"}).ok());
  EXPECT_FALSE(ParseOrderBy(SearchKind::kRegisteredModels, {"source_path"}).ok());
}

// ---- Validation, tokens ------------------------------------------------------------------

TEST(Validation, KeysAndLimits) {
  for (const char* ok : {"rmse", "val/loss", "a-b_c.d e:f", "x/y/z"}) {
    EXPECT_TRUE(ValidateKey("metric", ok).ok()) << ok;
  }
  for (const char* bad :
       {"", "/abs", "trail/", "a//b", "a/./b", "../up", "a/..", "bad$char", "ünïcode"}) {
    EXPECT_FALSE(ValidateKey("metric", bad).ok()) << bad;
  }
  EXPECT_FALSE(ValidateKey("metric", std::string(251, 'a')).ok());
  EXPECT_TRUE(ValidateKey("metric", std::string(250, 'a')).ok());

  std::vector<Metric> metrics(1001, Metric{"m", 1, 1, 0});
  auto s = ValidateBatch(metrics, {}, {});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("1000"), std::string::npos);
  EXPECT_FALSE(ValidateBatch({}, std::vector<Param>(101, Param{"p", "v"}), {}).ok());
  EXPECT_FALSE(ValidateBatch({}, {}, std::vector<Tag>(101, Tag{"t", "v"})).ok());
  EXPECT_FALSE(ValidateBatch(std::vector<Metric>(950, Metric{"m", 1, 1, 0}),
                             std::vector<Param>(51, Param{"p", "v"}), {})
                   .ok())
      << "more than 1000 entities in all";
  EXPECT_FALSE(ValidateBatch({}, {{"p", std::string(6001, 'v')}}, {}).ok());
  EXPECT_TRUE(ValidateBatch({}, {{"p", std::string(6000, 'v')}}, {}).ok());
  EXPECT_FALSE(ValidateBatch({{"m", 1, -5, 0}}, {}, {}).ok()) << "negative timestamp";

  EXPECT_TRUE(ValidateAlias("champion").ok());
  for (const char* bad : {"", "latest", "LATEST", "v3", "V12", "has space", "a/b"}) {
    EXPECT_FALSE(ValidateAlias(bad).ok()) << bad;
  }
  EXPECT_TRUE(ValidateAlias("v3x").ok());
  EXPECT_EQ(*ParseExperimentId("42"), 42);
  EXPECT_FALSE(ParseExperimentId("4x").ok());
  EXPECT_FALSE(ParseExperimentId("-1").ok());
  EXPECT_FALSE(ParseModelVersion("0").ok());
  EXPECT_FALSE(ValidateModelName("a/b").ok());
  EXPECT_FALSE(ValidateRunId("ABC").ok());
}

TEST(Validation, EveryTextFieldHasOneLimit) {
  for (int f = 0; f <= static_cast<int>(TextField::kInputTagValue); ++f) {
    int rows = 0;
    for (const TextLimit& limit : kTextLimits) rows += static_cast<int>(limit.field) == f;
    EXPECT_EQ(rows, 1) << "TextField " << f;
  }
  for (const TextLimit& limit : kTextLimits) {
    EXPECT_TRUE(ValidateLength(limit.field, std::string(limit.max_length, 'a')).ok()) << limit.name;
    const Status over = ValidateLength(limit.field, std::string(limit.max_length + 1, 'a'));
    EXPECT_EQ(over.code(), StatusCode::kInvalidArgument) << limit.name;
    EXPECT_EQ(over.message(), fmt::format("{} is {} characters long; the limit is {}", limit.name,
                                          limit.max_length + 1, limit.max_length));
  }
  EXPECT_EQ(LimitOf(TextField::kParamValue).max_length, 6000u);
  EXPECT_EQ(LimitOf(TextField::kRunTagValue).max_length, 8000u);
  EXPECT_EQ(LimitOf(TextField::kRunName).max_length, 250u);
  EXPECT_EQ(LimitOf(TextField::kDatasetDigest).max_length, 36u);
  // Characters, not bytes: 250 two-byte characters are a valid run name.
  std::string korean;
  for (int i = 0; i < 250; ++i) korean += "\xea\xb0\x80";  // U+AC00
  EXPECT_EQ(CharacterCount(korean), 250u);
  EXPECT_TRUE(ValidateRunName(korean).ok());
  EXPECT_EQ(ValidateRunName(korean + "x").message(),
            "run name '" + korean.substr(0, 120) + "...' is 251 characters long; the limit is 250");
  EXPECT_EQ(Preview("short"), "short");
}

TEST(Paging, TokensMatchMlflows) {
  EXPECT_EQ(EncodePageToken(100), "eyJvZmZzZXQiOiAxMDB9");  // MLflow's own token for 100
  EXPECT_EQ(*DecodePageToken("eyJvZmZzZXQiOiAxMDB9"), 100);
  EXPECT_EQ(*DecodePageToken(""), 0);
  EXPECT_FALSE(DecodePageToken("not-a-token").ok());
  EXPECT_FALSE(DecodePageToken(Base64Encode("{\"offset\": -3}")).ok());
  EXPECT_FALSE(DecodePageToken(Base64Encode("[1]")).ok());
  auto page = MakePage(std::vector<int>{1, 2, 3}, 2, 10);
  EXPECT_EQ(page.items, (std::vector<int>{1, 2}));
  EXPECT_EQ(*DecodePageToken(page.next_page_token), 12);
  EXPECT_TRUE(MakePage(std::vector<int>{1, 2}, 2, 0).next_page_token.empty());
}

TEST(Base64, RoundTrips) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba",
                                                       "foobar", std::string("\0\xff", 2)}) {
    EXPECT_EQ(*Base64Decode(Base64Encode(s)), s);
  }
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_FALSE(Base64Decode("Zm9=YmFy").has_value());
  EXPECT_FALSE(Base64Decode("abc").has_value());
  EXPECT_FALSE(Base64Decode("ab!c").has_value());
}

// ---- Services ----------------------------------------------------------------------------

class ServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fixture_.Open();
    if (HasFatalFailure()) return;
    registry_ = std::make_unique<RegistryService>(*store_, *tracking_);
  }

  somlier::Run NewRun(const std::string& experiment_id, CreateRunRequest r = {}) {
    r.experiment_id = experiment_id;
    auto run = tracking_->CreateRun(r);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    return run.ok() ? *run : somlier::Run{};
  }

  somlier::testing::TrackingFixture fixture_;
  somlier::testing::TempDir& dir_ = fixture_.dir;
  std::unique_ptr<Store>& store_ = fixture_.store;
  std::unique_ptr<ArtifactStore>& artifacts_ = fixture_.artifacts;
  std::unique_ptr<TrackingService>& tracking_ = fixture_.tracking;
  std::unique_ptr<RegistryService> registry_;  // destroyed before the fixture
};

TEST_F(ServicesTest, DefaultExperimentAndArtifactLocations) {
  auto e0 = tracking_->GetExperiment(0);
  ASSERT_TRUE(e0.ok());
  EXPECT_EQ(e0->name, "Default");
  EXPECT_EQ(e0->artifact_location, "mlflow-artifacts:/0");
  ASSERT_TRUE(tracking_->EnsureDefaultExperiment().ok()) << "idempotent";

  auto id = tracking_->CreateExperiment("proj", "", {});
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(tracking_->GetExperiment(*id)->artifact_location,
            "mlflow-artifacts:/" + std::to_string(*id));
  somlier::Run run = NewRun(std::to_string(*id));
  EXPECT_EQ(run.info.artifact_uri,
            "mlflow-artifacts:/" + std::to_string(*id) + "/" + run.info.run_id + "/artifacts");
  EXPECT_EQ(*tracking_->RunArtifactDirectory(run.info),
            std::to_string(*id) + "/" + run.info.run_id + "/artifacts");
  EXPECT_EQ(NewRun("").info.experiment_id, 0) << "no experiment id: the default experiment";
  EXPECT_FALSE(tracking_->CreateExperiment("x", "runs:/abc", {}).ok());
}

TEST_F(ServicesTest, RunNamesTagsAndUsers) {
  CreateRunRequest r;
  r.tags = {{"mlflow.user", "kim"}, {"mlflow.runName", "from-tag"}};
  somlier::Run run = NewRun("0", r);
  EXPECT_EQ(run.info.run_name, "from-tag");
  EXPECT_EQ(run.info.user_id, "kim");
  r.run_name = "different";
  r.experiment_id = "0";
  EXPECT_EQ(tracking_->CreateRun(r).status().code(), StatusCode::kInvalidArgument);
  somlier::Run generated = NewRun("0");
  EXPECT_FALSE(generated.info.run_name.empty());
  EXPECT_EQ(std::count(generated.info.run_name.begin(), generated.info.run_name.end(), '-'), 2);
  r = {};
  r.experiment_id = "nope";
  EXPECT_EQ(tracking_->CreateRun(r).status().code(), StatusCode::kInvalidArgument);
  r.experiment_id = "999";
  EXPECT_EQ(tracking_->CreateRun(r).status().code(), StatusCode::kNotFound);
}

TEST_F(ServicesTest, UpdatingAndLoggingNeedAnActiveRun) {
  somlier::Run run = NewRun("0");
  RunUpdateRequest u;
  u.status = RunStatus::kFinished;
  u.end_time = 5;
  auto info = tracking_->UpdateRun(run.info.run_id, u);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->status, RunStatus::kFinished);
  ASSERT_TRUE(tracking_->DeleteRun(run.info.run_id).ok());
  EXPECT_EQ(tracking_->UpdateRun(run.info.run_id, u).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(tracking_->LogBatch(run.info.run_id, {{"m", 1, 1, 0}}, {}, {}).code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(tracking_->RestoreRun(run.info.run_id).ok());
  EXPECT_TRUE(tracking_->LogBatch(run.info.run_id, {{"m", 1, 1, 0}}, {}, {}).ok());
  EXPECT_EQ(tracking_->GetRun("not-an-id").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(tracking_->LogBatch(run.info.run_id, {{"bad$key", 1, 1, 0}}, {}, {}).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ServicesTest, LogInputsValidatesLikeMlflowAndIsSearchable) {
  somlier::Run run = NewRun("0");
  const std::string& id = run.info.run_id;
  auto input = [](std::string name, std::string digest,
                  std::string source = "{\"uri\": \"iris.csv\"}") {
    return DatasetInput(
        Dataset{std::move(name), std::move(digest), "local", std::move(source), "", ""},
        {{std::string(kDatasetContextTag), "training"}});
  };
  auto expect_refused = [&](std::vector<DatasetInput> inputs, std::string_view fragment) {
    const Status s = tracking_->LogInputs(id, inputs);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
  };
  expect_refused({input("iris", "abc"), input("wine", "")},
                 "datasets[1].dataset.digest is required: a dataset needs a name, digest, "
                 "source_type and source");
  expect_refused({input("iris", "abc", "")}, "datasets[0].dataset.source is required");
  expect_refused({DatasetInput()}, "datasets[0].dataset is required");
  expect_refused({input("iris", std::string(37, 'd'))},
                 "datasets[0].dataset.digest '" + std::string(37, 'd') +
                     "' is 37 characters long; the limit is 36");
  expect_refused({input(std::string(501, 'n'), "abc")}, "the limit is 500");
  DatasetInput long_context = input("iris", "abc");
  long_context.tags[0].value = std::string(501, 'c');
  expect_refused({long_context},
                 "the value of datasets[0].tags[0] ('mlflow.data.context') is 501 characters "
                 "long; the limit is 500");
  DatasetInput keyless = input("iris", "abc");
  keyless.tags.push_back({"", "x"});
  expect_refused({keyless}, "datasets[0].tags[1].key is required");
  expect_refused(std::vector<DatasetInput>(1001, input("iris", "abc")), "at most 1000 datasets");
  // At most 1000 input tags in all, however they are spread.
  DatasetInput tagged = input("iris", "abc");
  DatasetInput more_tagged = input("wine", "w1");
  for (int i = 0; i < 600; ++i) {
    tagged.tags.push_back({"t" + std::to_string(i), "v"});
    more_tagged.tags.push_back({"t" + std::to_string(i), "v"});
  }
  expect_refused({tagged, more_tagged},
                 "a log-inputs request can contain at most 1000 input tags in all; got 1202");
  // NUL bytes: PostgreSQL's text cannot hold them; the error names the field.
  const std::string nul("a\0b", 3);
  const std::pair<std::string Dataset::*, const char*> text_fields[] = {
      {&Dataset::name, "name"},
      {&Dataset::digest, "digest"},
      {&Dataset::source_type, "source_type"},
      {&Dataset::source, "source"},
      {&Dataset::schema, "schema"},
      {&Dataset::profile, "profile"}};
  for (const auto& [field, path] : text_fields) {
    Dataset d = *input("iris", "abc").dataset;
    d.*field = nul;
    expect_refused({input("ok", "1"), DatasetInput(d, {})},
                   fmt::format("datasets[1].dataset.{} contains a NUL byte (\\u0000)", path));
  }
  DatasetInput nul_key = input("iris", "abc");
  nul_key.tags.push_back({nul, "v"});
  expect_refused({nul_key}, "datasets[0].tags[1].key contains a NUL byte");
  DatasetInput nul_value = input("iris", "abc");
  nul_value.tags[0].value = nul;
  expect_refused({nul_value},
                 "the value of datasets[0].tags[0] ('mlflow.data.context') contains a NUL byte");
  EXPECT_TRUE(tracking_->GetRun(id)->inputs.empty()) << "a refused request writes nothing";
  // Exactly 1000 tags are fine.
  tagged.tags.resize(500);
  more_tagged.tags.resize(500);
  const std::string tags_run = NewRun("0").info.run_id;
  ASSERT_TRUE(tracking_->LogInputs(tags_run, {tagged, more_tagged}).ok());
  EXPECT_EQ(tracking_->GetRun(tags_run)->inputs.at(1).tags.size(), 500u);
  ASSERT_TRUE(tracking_->DeleteRun(tags_run).ok());

  EXPECT_EQ(tracking_->LogInputs("not-a-run", {input("iris", "abc")}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(tracking_->LogInputs(std::string(32, 'f'), {input("iris", "abc")}).code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(tracking_->LogInputs(id, {input("iris", "abc"), input("wine", "w1")}).ok());
  ASSERT_TRUE(tracking_->LogInputs(id, {input("iris", "abc")}).ok());
  EXPECT_EQ(tracking_->GetRun(id)->inputs.size(), 2u) << "logged once";
  NewRun("0");
  SearchRequest search;
  search.filter = "datasets.name = 'wine' and datasets.context = 'training'";
  auto found = tracking_->SearchRuns({0}, search);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->items.size(), 1u);
  EXPECT_EQ(found->items[0].info.run_id, id);
  EXPECT_TRUE(found->items[0].inputs.empty()) << "SoMLier's own lists show no inputs";
  found = tracking_->SearchRuns({0}, search, /*with_inputs=*/true);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->items.size(), 1u);
  EXPECT_EQ(found->items[0].inputs.size(), 2u) << "MLflow's runs/search shows them";
  search.order_by = {"datasets.name"};
  EXPECT_EQ(tracking_->SearchRuns({0}, search).status().code(), StatusCode::kInvalidArgument);

  ASSERT_TRUE(tracking_->DeleteRun(id).ok());
  EXPECT_EQ(tracking_->LogInputs(id, {input("new", "n1")}).code(), StatusCode::kFailedPrecondition);
}

TEST_F(ServicesTest, RunSearchPagesKeepTheirDatasetsWithinABudget) {
  // One 16 MB dataset used by five runs: a page showing all five would carry 80 MB.
  auto id = tracking_->CreateExperiment("big-data", "", {});
  ASSERT_TRUE(id.ok());
  const DatasetInput big(Dataset{"big", "d1", "local", "{}", "", std::string(16000000, 'p')},
                         {{std::string(kDatasetContextTag), "training"}});
  std::vector<std::string> runs;  // newest first
  for (int i = 0; i < 5; ++i) {
    CreateRunRequest r;
    r.start_time = 5000 - i;
    runs.push_back(NewRun(std::to_string(*id), r).info.run_id);
    ASSERT_TRUE(tracking_->LogInputs(runs.back(), {big}).ok());
  }
  SearchRequest search;
  search.max_results = 10;
  auto first = tracking_->SearchRuns({*id}, search, /*with_inputs=*/true);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->items.size(), 4u) << "64 MiB of datasets at most";
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(first->items[i].info.run_id, runs[i]);
    ASSERT_EQ(first->items[i].inputs.size(), 1u);
    EXPECT_EQ(first->items[i].inputs[0].dataset.get(), first->items[0].inputs[0].dataset.get());
  }
  ASSERT_FALSE(first->next_page_token.empty());
  search.page_token = first->next_page_token;
  auto second = tracking_->SearchRuns({*id}, search, /*with_inputs=*/true);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_EQ(second->items.size(), 1u);
  EXPECT_EQ(second->items[0].info.run_id, runs[4]);
  EXPECT_EQ(second->items[0].inputs, std::vector<DatasetInput>{big});
  EXPECT_TRUE(second->next_page_token.empty());
  // Without inputs, one page holds them all.
  search.page_token.clear();
  auto plain = tracking_->SearchRuns({*id}, search);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->items.size(), 5u);
  EXPECT_TRUE(plain->next_page_token.empty());
  for (const somlier::Run& run : plain->items) EXPECT_TRUE(run.inputs.empty());
}

TEST_F(ServicesTest, ClientsCannotEndARunWhileSomlierExecutesIt) {
  CreateRunRequest executed;
  executed.status = RunStatus::kScheduled;
  executed.executor = "host:1:2:3";
  executed.params = {{"lr", "0.1"}};
  somlier::Run run = NewRun("0", executed);
  EXPECT_EQ(run.params, (std::vector<Param>{{"lr", "0.1"}}));

  RunUpdateRequest running;
  running.status = RunStatus::kRunning;
  EXPECT_EQ(tracking_->UpdateRun(run.info.run_id, running)->status, RunStatus::kScheduled)
      << "the executor says when it runs";
  RunUpdate started;
  started.status = RunStatus::kRunning;
  ASSERT_TRUE(store_->UpdateRun(run.info.run_id, started).ok());
  RunUpdateRequest finished;
  finished.status = RunStatus::kFinished;
  finished.end_time = 5;
  auto after = tracking_->UpdateRun(run.info.run_id, finished);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, RunStatus::kRunning) << "and when it has ended";
  EXPECT_FALSE(after->end_time.has_value());

  // Once the executor has ended it, or for a client's own run, MLflow's semantics apply.
  RunUpdate ended;
  ended.status = RunStatus::kFailed;
  ASSERT_TRUE(store_->UpdateRun(run.info.run_id, ended).ok());
  EXPECT_EQ(tracking_->UpdateRun(run.info.run_id, finished)->status, RunStatus::kFinished);
  somlier::Run client = NewRun("0");
  EXPECT_EQ(tracking_->UpdateRun(client.info.run_id, finished)->status, RunStatus::kFinished);

  CreateRunRequest twice;
  twice.params = {{"a", "1"}, {"a", "2"}};
  twice.experiment_id = "0";
  EXPECT_EQ(tracking_->CreateRun(twice).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ServicesTest, LogModelKeepsAHistory) {
  somlier::Run run = NewRun("0");
  const std::string model =
      R"({"artifact_path": "model", "flavors": {"sklearn": {}}, "utc_time_created": "x", "run_id": ")" +
      run.info.run_id + "\"}";
  ASSERT_TRUE(tracking_->LogModel(run.info.run_id, model).ok());
  ASSERT_TRUE(tracking_->LogModel(run.info.run_id, model).ok());
  auto got = tracking_->GetRun(run.info.run_id);
  std::string history;
  for (const Tag& t : got->tags) {
    if (t.key == "mlflow.log-model.history") history = t.value;
  }
  EXPECT_EQ(std::count(history.begin(), history.end(), '{') / 3, 2) << history;
  EXPECT_EQ(tracking_->LogModel(run.info.run_id, "{\"flavors\": {}}").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(tracking_->LogModel(run.info.run_id, "not json").code(), StatusCode::kInvalidArgument);
}

TEST_F(ServicesTest, SearchPagesThroughEverything) {
  auto id = tracking_->CreateExperiment("paging", "", {});
  for (int i = 0; i < 7; ++i) {
    somlier::Run run = NewRun(std::to_string(*id));
    ASSERT_TRUE(tracking_->LogBatch(run.info.run_id, {{"loss", 1.0 * i, 1, 0}}, {}, {}).ok());
  }
  SearchRequest r;
  r.max_results = 3;
  r.order_by = {"metrics.loss DESC"};
  std::vector<double> seen;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = tracking_->SearchRuns({*id}, r);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const somlier::Run& run : page->items) seen.push_back(run.metrics[0].value);
    if (page->next_page_token.empty()) break;
    r.page_token = page->next_page_token;
  }
  EXPECT_EQ(seen, (std::vector<double>{6, 5, 4, 3, 2, 1, 0}));
  r.max_results = 0;
  EXPECT_EQ(tracking_->SearchRuns({*id}, r).status().code(), StatusCode::kInvalidArgument);
  r.max_results = 50001;
  EXPECT_EQ(tracking_->SearchRuns({*id}, r).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ServicesTest, BestRunsAnswersLikeTheSeed) {
  EXPECT_EQ(tracking_->BestRuns("nope", "mae", "ASC", 1).status().code(), StatusCode::kNotFound);
  auto id = tracking_->CreateExperiment("proj", "", {});
  EXPECT_EQ(tracking_->BestRuns("proj", "mae", "ASC", 1).status().code(), StatusCode::kNotFound)
      << "a project without runs";
  std::vector<std::string> runs;
  for (double mae : {0.5, 0.2, 0.9}) {
    somlier::Run run = NewRun(std::to_string(*id));
    ASSERT_TRUE(tracking_->LogBatch(run.info.run_id, {{"mae", mae, 1, 0}}, {{"p", "x"}}, {}).ok());
    runs.push_back(run.info.run_id);
  }
  EXPECT_EQ(tracking_->BestRuns("proj", "rmse", "ASC", 1).status().code(),
            StatusCode::kInvalidArgument)
      << "a metric no run has";
  EXPECT_EQ(tracking_->BestRuns("proj", "mae", "UP", 1).status().code(),
            StatusCode::kInvalidArgument);
  auto best = tracking_->BestRuns("proj", "mae", "asc", 1);
  ASSERT_TRUE(best.ok());
  EXPECT_EQ((*best)[0].run.info.run_id, runs[1]);
  EXPECT_EQ((*best)[0].metric_value, 0.2);
  auto top = tracking_->BestRuns("proj", "mae", "DESC", 2);
  ASSERT_EQ(top->size(), 2u);
  EXPECT_EQ((*top)[0].run.info.run_id, runs[2]);
  EXPECT_EQ((*top)[1].run.info.run_id, runs[0]);
  EXPECT_EQ((*top)[0].run.params, (std::vector<Param>{{"p", "x"}}));
}

TEST_F(ServicesTest, RegisterRunNeedsAModelAndIsIdempotent) {
  somlier::Run run = NewRun("0");
  EXPECT_EQ(registry_->RegisterRun("bad id", "m").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->RegisterRun(std::string(32, 'a'), "m").status().code(),
            StatusCode::kNotFound);
  auto none = registry_->RegisterRun(run.info.run_id, "m");
  EXPECT_EQ(none.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(none.status().message().find("model/MLmodel"), std::string::npos);
  EXPECT_EQ(registry_->GetRegisteredModel("m").status().code(), StatusCode::kNotFound)
      << "a refused registration creates nothing";

  const std::string dir = *tracking_->RunArtifactDirectory(run.info);
  ASSERT_TRUE(artifacts_->WriteString(dir + "/model/MLmodel", "flavors: {}\n").ok());
  auto first = registry_->RegisterRun(run.info.run_id, "m");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->is_newer_version);
  EXPECT_EQ(first->version.version, 1);
  EXPECT_EQ(first->version.source, run.info.artifact_uri + "/model");
  auto again = registry_->RegisterRun(run.info.run_id, "m");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->is_newer_version);
  EXPECT_EQ(again->version.version, 1);
  EXPECT_NE(again->message.find("already"), std::string::npos);
  EXPECT_EQ(*registry_->GetDownloadUri("m", "1"), run.info.artifact_uri + "/model");
  EXPECT_EQ(registry_->GetRegisteredModel("m")->latest_versions.size(), 1u);
}

TEST_F(ServicesTest, RegistryValidation) {
  ASSERT_TRUE(registry_->CreateRegisteredModel("m", "", {}).ok());
  CreateVersionRequest r;
  r.name = "m";
  r.source = "mlflow-artifacts:/0/x/../../etc";
  EXPECT_EQ(registry_->CreateModelVersion(r).status().code(), StatusCode::kInvalidArgument);
  r.source = "mlflow-artifacts:/0/abc/artifacts/model";
  ASSERT_TRUE(registry_->CreateModelVersion(r).ok());
  EXPECT_EQ(registry_->SetAlias("m", "latest", "1").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->SetAlias("m", "prod", "one").code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(registry_->SetAlias("m", "prod", "1").ok());
  EXPECT_EQ(registry_->GetVersionByAlias("m", "prod")->version, 1);
  EXPECT_EQ(registry_->GetModelVersion("m", "x").status().code(), StatusCode::kInvalidArgument);
  SearchRequest s;
  s.max_results = 1001;
  EXPECT_EQ(registry_->SearchRegisteredModels(s).status().code(), StatusCode::kInvalidArgument);
  s.max_results = 10;
  s.filter = "name = 'm'";
  auto found = registry_->SearchRegisteredModels(s);
  ASSERT_EQ(found->items.size(), 1u);
  EXPECT_EQ(found->items[0].latest_versions.size(), 1u);
}

TEST_F(ServicesTest, OverLongValuesAreRefusedAtEveryEntryAndChangeNothing) {
  auto expect_limit = [](const Status& s, std::string_view fragment) {
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
  };
  const std::string huge(5 << 20, 'x');  // the reported 5 MB run name

  // Runs: create, rename, log (all or nothing), the mlflow.runName and mlflow.user tags.
  CreateRunRequest r;
  r.run_name = huge;
  expect_limit(tracking_->CreateRun(r).status(),
               "run name 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' is 5242880 characters "
               "long; the limit is 250");
  r = {};
  r.tags = {{"mlflow.runName", std::string(251, 'n')}};
  expect_limit(tracking_->CreateRun(r).status(), "run name");
  r = {};
  r.user_id = std::string(257, 'u');
  expect_limit(tracking_->CreateRun(r).status(),
               "user_id is 257 characters long; the limit is 256");
  r = {};
  r.tags = {{"mlflow.user", std::string(257, 'u')}};
  expect_limit(tracking_->CreateRun(r).status(), "mlflow.user");
  r = {};
  r.params = {{"p", std::string(6001, 'v')}};
  expect_limit(tracking_->CreateRun(r).status(),
               "the value of param 'p' is 6001 characters long; the limit is 6000");
  SearchRequest all;
  all.max_results = 100;
  EXPECT_TRUE(tracking_->SearchRuns({0}, all)->items.empty()) << "no run was created";

  somlier::Run run = NewRun("0");
  const std::string& id = run.info.run_id;
  RunUpdateRequest rename;
  rename.run_name = std::string(251, 'n');
  expect_limit(tracking_->UpdateRun(id, rename).status(), "run name");
  expect_limit(tracking_->LogBatch(id, {{"m", 1, 1, 0}}, {{"p", "ok"}},
                                   {{"t", "ok"}, {"long", std::string(8001, 'v')}}),
               "the value of tag 'long' is 8001 characters long; the limit is 8000");
  expect_limit(tracking_->LogBatch(id, {}, {}, {{"mlflow.runName", std::string(251, 'n')}}),
               "run name");
  expect_limit(tracking_->LogBatch(id, {}, {{std::string(251, 'k'), "v"}}, {}),
               "param key 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...' is 251 characters long");
  somlier::Run after = *tracking_->GetRun(id);
  EXPECT_EQ(after.info.run_name, run.info.run_name);
  EXPECT_TRUE(after.metrics.empty()) << "a refused batch writes nothing";
  EXPECT_TRUE(after.params.empty());
  EXPECT_EQ(after.tags.size(), run.tags.size());
  expect_limit(tracking_->LogModel(id, std::string(100001, ' ')), "model_json");

  // Experiments.
  expect_limit(tracking_->CreateExperiment(std::string(501, 'e'), "", {}).status(),
               "experiment name");
  expect_limit(tracking_->CreateExperiment("e", std::string(2049, 'l'), {}).status(),
               "artifact_location is 2049 characters long; the limit is 2048");
  expect_limit(
      tracking_->CreateExperiment("e", "", {{"mlflow.note.content", std::string(5001, 'd')}})
          .status(),
      "the value of experiment tag 'mlflow.note.content' is 5001 characters long");
  EXPECT_EQ(tracking_->GetExperimentByName("e").status().code(), StatusCode::kNotFound);
  expect_limit(tracking_->RenameExperiment(0, std::string(501, 'e')), "experiment name");
  expect_limit(tracking_->SetExperimentTag(0, {"t", std::string(5001, 'v')}), "experiment tag");

  // The registry.
  expect_limit(registry_->CreateRegisteredModel(std::string(257, 'm'), "", {}).status(),
               "registered model name");
  expect_limit(registry_->CreateRegisteredModel("m", std::string(5001, 'd'), {}).status(),
               "description is 5001 characters long; the limit is 5000");
  EXPECT_EQ(registry_->GetRegisteredModel("m").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(registry_->CreateRegisteredModel("m", "", {}).ok());
  expect_limit(registry_->UpdateRegisteredModel("m", std::string(5001, 'd')).status(),
               "description");
  expect_limit(registry_->RenameRegisteredModel("m", std::string(257, 'm')).status(),
               "registered model name");
  expect_limit(registry_->SetRegisteredModelTag("m", {"t", std::string(5001, 'v')}),
               "the value of registered model tag 't'");
  CreateVersionRequest v;
  v.name = "m";
  v.source = "mlflow-artifacts:/0/" + std::string(500, 's');
  expect_limit(registry_->CreateModelVersion(v).status(), "model source");
  v.source = "mlflow-artifacts:/0/abc/artifacts/model";
  v.run_link = std::string(501, 'l');
  expect_limit(registry_->CreateModelVersion(v).status(), "run_link");
  v.run_link = "";
  v.description = std::string(5001, 'd');
  expect_limit(registry_->CreateModelVersion(v).status(), "description");
  v.description = "";
  ASSERT_TRUE(registry_->CreateModelVersion(v).ok());
  EXPECT_EQ(registry_->GetModelVersion("m", "1")->description, "");
  expect_limit(registry_->UpdateModelVersion("m", "1", std::string(5001, 'd')).status(),
               "description");
  expect_limit(registry_->SetModelVersionTag("m", "1", {"t", std::string(5001, 'v')}),
               "model version tag");
  expect_limit(registry_->SetAlias("m", std::string(256, 'a'), "1"), "alias");
  EXPECT_TRUE(registry_->GetModelVersion("m", "1")->tags.empty());
}

}  // namespace
}  // namespace somlier
