#include <gtest/gtest.h>

#include "somlier/batch/dag_file.h"
#include "somlier/batch/dag_inputs.h"
#include "somlier/batch/schedule.h"
#include "somlier/batch/table_ref.h"

namespace somlier::batch {
namespace {

std::string Error(const Status& status) { return status.ok() ? "" : status.message(); }

TEST(Schedule, CronFieldsRangesStepsNamesAndPresets) {
  for (const char* good :
       {"0 9 * * *", "*/15 * * * *", "0 0-6/2 1,15 * MON-FRI", "30 3 * JAN-MAR 7", "@daily",
        "@hourly", " 5 4 * * sun ", "0 12 1 */3 *", "59 23 31 12 6", "0 9/3 * * *"}) {
    EXPECT_TRUE(ParseSchedule(good).ok()) << good << ": " << ParseSchedule(good).status().message();
  }
  EXPECT_EQ(Error(ParseSchedule("61 9 * * *").status()),
            "minute '61' is not 0-59 (a minute is 0-59, '*', a range a-b, a step */n or a-b/n, "
            "or a comma list)");
  EXPECT_NE(Error(ParseSchedule("0 24 * * *").status()).find("hour '24' is not 0-23"),
            std::string::npos);
  EXPECT_NE(Error(ParseSchedule("0 0 0 * *").status()).find("day of month '0'"), std::string::npos);
  EXPECT_NE(Error(ParseSchedule("0 0 * 13 *").status()).find("month '13'"), std::string::npos);
  EXPECT_NE(Error(ParseSchedule("0 0 * * 8").status()).find("day of week '8'"), std::string::npos);
  EXPECT_NE(Error(ParseSchedule("0 9 * *").status()).find("has 4 field(s)"), std::string::npos);
  EXPECT_NE(Error(ParseSchedule("0 5-1 * * *").status()).find("ends before it starts"),
            std::string::npos);
  EXPECT_NE(Error(ParseSchedule("*/0 * * * *").status()).find("step"), std::string::npos);
  EXPECT_NE(Error(ParseSchedule("1,,2 * * * *").status()).find("not a number"), std::string::npos);
  EXPECT_NE(Error(ParseSchedule("@every_day").status()).find("presets"), std::string::npos);
  EXPECT_NE(Error(ParseSchedule("0 9 * * *; rm -rf /").status()).find("field"), std::string::npos);

  for (const char* daily : {"0 9 * * *", "@daily", "0 3 * * MON", "30 23 1 * *", "@once"}) {
    EXPECT_FALSE(ParseSchedule(daily)->sub_daily) << daily;
  }
  for (const char* more : {"*/30 9 * * *", "0 3,15 * * *", "0 * * * *", "@hourly", "0 0-23/6 * * *",
                           "0 9/3 * * *", "0-1 9 * * *"}) {
    EXPECT_TRUE(ParseSchedule(more)->sub_daily) << more;
  }
}

TEST(DagInputs, DagIdsImagesAndEntrypointWords) {
  EXPECT_TRUE(CheckDagId("inference_boston_house_price").ok());
  EXPECT_TRUE(CheckDagId("team.job-1").ok());
  for (const char* bad : {"", "has space", "quote'", "semi;colon", "path/dag", "ünïcode", "..",
                          ".hidden", "a..b", "x.lock", "x.", "-x"}) {
    EXPECT_EQ(CheckDagId(bad).code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(CheckDagId(std::string(251, 'a')).code(), StatusCode::kInvalidArgument);

  for (const char* good : {"python:3.11", "registry.example.com:5000/team/job:1.2", "busybox",
                           "ghcr.io/org/a__b-c.d/e:latest"}) {
    EXPECT_TRUE(CheckImageReference(good).ok()) << good;
  }
  EXPECT_TRUE(CheckImageReference("gcr.io/p/img:v1@sha256:" + std::string(64, 'a')).ok());
  for (const char* bad : {"", "UPPER/case", "img:tag with space", "img:{{ ds }}", "a//b",
                          "img:", "-img", "img\nrm"}) {
    EXPECT_EQ(CheckImageReference(bad).code(), StatusCode::kInvalidArgument) << bad;
  }

  auto words = SplitEntrypoint(R"(python -m job --name 'two words' --x "a \"q\" b" c\ d '')");
  ASSERT_TRUE(words.ok()) << words.status().message();
  EXPECT_EQ(*words, (std::vector<std::string>{"python", "-m", "job", "--name", "two words", "--x",
                                              "a \"q\" b", "c d", ""}));
}

TEST(DagInputs, EntrypointsThatWouldBeRewrittenOrInterpretedAreRefused) {
  for (const char* bad : {"echo {{ ds }}",
                          "run {% if x %}",
                          "a {# c #}",
                          "echo $(whoami)",
                          "a | b",
                          "a; rm -rf /",
                          "a && b",
                          "a > f",
                          "echo `id`",
                          "echo $HOME",
                          "echo \"$HOME\"",
                          "echo ${X}",
                          "'open",
                          "\"open",
                          "",
                          "   ",
                          "echo {\\{var.value.secret}}",
                          "echo '{'{conn.x.password}}",
                          "echo \"{\"{ds}}",
                          "a\nb",
                          "#comment",
                          "ls ~/x",
                          "X=1 python job.py",
                          "ls *.py",
                          "a (b)",
                          "echo $1",
                          "echo $$"}) {
    EXPECT_EQ(SplitEntrypoint(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(Error(SplitEntrypoint("echo {{ ds }}").status()).find("Jinja"), std::string::npos);
  EXPECT_TRUE(SplitEntrypoint("echo '|;&<>' \"a|b\" 5$").ok());
  // Quoted, a '$' is the program's: the DAG doubles it for the kubelet (see DagFile).
  EXPECT_EQ(*SplitEntrypoint("sh -c 'echo $(date) $$'"),
            (std::vector<std::string>{"sh", "-c", "echo $(date) $$"}));
  EXPECT_TRUE(SplitEntrypoint("python /opt/x=y.py").ok()) << "'=' after a '/' is a path";
}

TEST(DagFile, DatesInSeoul) {
  // 2026-12-01T15:30:00Z is 2026-12-02 00:30 in Seoul.
  const Date d = SeoulDate(1796139000);
  EXPECT_EQ((d.year * 10000 + d.month * 100 + d.day), 20261202);
  const Date before = SeoulDate(1796139000, -1);
  EXPECT_EQ((before.year * 10000 + before.month * 100 + before.day), 20261201);
  const Date new_year = SeoulDate(1798729200 - 1);  // 2026-12-31T14:59:59Z
  EXPECT_EQ((new_year.year * 10000 + new_year.month * 100 + new_year.day), 20261231);
  EXPECT_TRUE(ParseDate("--start_date", "2024-02-29").ok());
  for (const char* bad : {"2023-02-29", "2024-13-01", "24-01-01", "2024-1-01", "2024-01-01x", ""}) {
    EXPECT_EQ(ParseDate("--start_date", bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(DagFile, ValuesReachThePythonSourceAsLiterals) {
  BatchDag dag;
  dag.dag_id = "nightly.job";
  dag.schedule = *ParseSchedule("0 3 * * *");
  dag.image = "registry.example.com/team/job:1";
  dag.command = {"python", "run.py", "--note", "it's \"quoted\"\n\\ ünï", "$(HOME) 😀"};
  dag.ns = "batch";
  dag.start_date = {2026, 12, 1};
  auto source = RenderBatchDag(dag, kubernetes::KubernetesSettings{});
  ASSERT_TRUE(source.ok()) << source.status().message();
  EXPECT_NE(source->find(R"(arguments=["run.py", "--note", "it's \"quoted\"\x0a\\ \xfcn\xef", )"
                         R"("$$(HOME) \U0001f600"],)"),
            std::string::npos)
      << *source;
  EXPECT_NE(source->find("schedule=\"0 3 * * *\","), std::string::npos);
  EXPECT_NE(source->find("start_date=pendulum.datetime(2026, 12, 1, tz=\"Asia/Seoul\")"),
            std::string::npos);
  dag.ns = "Not A Namespace";
  EXPECT_EQ(RenderBatchDag(dag, kubernetes::KubernetesSettings{}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(TableRef, BigQueryNamesAndNothingElse) {
  auto full = ParseTableRef("DATASET_REF", "my-project.temp_serena.boston_house_pricing", false);
  ASSERT_TRUE(full.ok()) << full.status().message();
  EXPECT_EQ((full->project + "|" + full->dataset + "|" + full->table),
            "my-project|temp_serena|boston_house_pricing");
  EXPECT_EQ(full->ToString(), "my-project.temp_serena.boston_house_pricing");
  auto two = ParseTableRef("DATASET_REF", "features.daily-2024", false);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->project, "");
  EXPECT_TRUE(ParseTableRef("--destination", "results", true).ok());
  EXPECT_FALSE(ParseTableRef("DATASET_REF", "results", false).ok()) << "create_v2 needs a dataset";
  for (const char* bad : {"a.b.c.d", "x;DROP TABLE t", "ds.t; DROP TABLE users --", "ds.t`",
                          "ds.\"t\"", "ds.t WHERE 1=1", "Proj.ds.t", "p.ds.t", "ds..t", ".t",
                          "ds.-t", "ds.t\n", "ds.t'--", "my-project-.ds.t"}) {
    EXPECT_EQ(ParseTableRef("DATASET_REF", bad, true).status().code(), StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_NE(ParseTableRef("DATASET_REF", "ds.t; DROP TABLE users", true)
                .status()
                .message()
                .find("DATASET_REF 'ds.t; DROP TABLE users': table"),
            std::string::npos);
  EXPECT_TRUE(CheckColumnName("DATASET_LOAD_COLUMN", "return_date_kst").ok());
  EXPECT_TRUE(CheckColumnName("DATASET_LOAD_COLUMN", "_ts").ok());
  for (const char* bad : {"", "1date", "date; --", "date\"", "a b", "d`ate", "d.ate"}) {
    EXPECT_EQ(CheckColumnName("DATASET_LOAD_COLUMN", bad).code(), StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(QuoteIdentifier("da\"te", false), "\"da\"\"te\"");
  EXPECT_EQ(QuoteIdentifier("da`te", true), "`da\\`te`");
}

}  // namespace
}  // namespace somlier::batch
