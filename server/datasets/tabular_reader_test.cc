// TSV and CSV through ParseDataset / ParseCsvRecords.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/datasets/dataset.h"
#include "server/datasets/readers.h"

namespace ptune::datasets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<Dataset> Tsv(const std::string& contents) {
  return ParseDataset(contents, "data.tsv", Task::kClassify, Format::kAuto);
}
absl::StatusOr<Dataset> Csv(const std::string& contents) {
  return ParseDataset(contents, "data.csv", Task::kClassify, Format::kAuto);
}

// The error message of a failed parse ("" when it succeeded).
std::string Error(const absl::StatusOr<Dataset>& result) {
  if (result.ok()) return "";
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(result.status().message());
}

TEST(TsvTest, ReadsRowsVerbatim) {
  absl::StatusOr<Dataset> d =
      Tsv("sentence\tlabel\nit 's good . \t1\r\nbad\t0\n\nugly \"x\"\t0\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->task, Task::kClassify);
  ASSERT_EQ(d->classification.size(), 3u);
  EXPECT_EQ(d->classification[0].text, "it 's good . ");
  EXPECT_EQ(d->classification[0].label, "1");
  EXPECT_EQ(d->classification[1].label, "0");
  EXPECT_EQ(d->classification[2].text, "ugly \"x\"");  // A quote mid-field is literal.
  EXPECT_THAT(d->labels, ElementsAre("0", "1"));
  EXPECT_TRUE(d->tagging.empty());
}

// As pandas' to_csv(sep="\t") and spreadsheets write TSV: a field with a
// tab, a line break or a quote is quoted, quotes doubled; CRLF line ends.
TEST(TsvTest, ReadsQuotedFieldsAsPandasWritesThem) {
  absl::StatusOr<Dataset> d = Tsv(
      "text\tlabel\r\n"
      "\"a tab\there\"\tpos\r\n"
      "\"two\r\nlines\"\tneg\r\n"
      "\"she said \"\"wow\"\"\"\tpos\r\n"
      "\"Good\" movie\tpos\r\n"   // not a quoted field: read literally
      "\"open quote\tneg\r\n");    // neither
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->classification.size(), 5u);
  EXPECT_EQ(d->classification[0].text, "a tab\there");
  EXPECT_EQ(d->classification[1].text, "two\r\nlines");
  EXPECT_EQ(d->classification[1].label, "neg");
  EXPECT_EQ(d->classification[2].text, "she said \"wow\"");
  EXPECT_EQ(d->classification[3].text, "\"Good\" movie");
  EXPECT_EQ(d->classification[4].text, "\"open quote");
  // A broken row after a multi-line field names its own line (5).
  EXPECT_THAT(Error(Tsv("text\tlabel\n\"a\nb\"\tpos\nok\tneg\nno label here\n")),
              HasSubstr("data.tsv:5: missing column"));
}

TEST(TsvTest, HeaderIsCaseInsensitiveAndOtherColumnsAreIgnored) {
  absl::StatusOr<Dataset> d =
      Tsv("id\t LABEL \tText\n7\tpos\thello\n8\tneg\tbye\n");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->classification.size(), 2u);
  EXPECT_EQ(d->classification[1].text, "bye");
  EXPECT_EQ(d->classification[1].label, "neg");
  EXPECT_THAT(d->labels, ElementsAre("neg", "pos"));
}

TEST(TsvTest, Errors) {
  EXPECT_THAT(Error(Tsv("body\tlabel\nx\t1\n")),
              HasSubstr("data.tsv:1: header has no \"text\" or \"sentence\" "
                        "column (columns: \"body\", \"label\")"));
  EXPECT_THAT(Error(Tsv("text\tclass\nx\t1\n")),
              HasSubstr("data.tsv:1: header has no \"label\" column"));
  EXPECT_THAT(Error(Tsv("text\tsentence\tlabel\nx\ty\t1\n")),
              HasSubstr("data.tsv:1: header has more than one text column"));
  EXPECT_THAT(Error(Tsv("text\tlabel\tlabel\nx\t1\t1\n")),
              HasSubstr("data.tsv:1: header has more than one \"label\""));
  EXPECT_THAT(Error(Tsv("text\tlabel\nok\t1\nno label here\n")),
              HasSubstr("data.tsv:3: missing column: the row has 1 field(s), "
                        "the header 2"));
  EXPECT_THAT(Error(Tsv("text\tlabel\nok\t1\na\tb\t1\n")),
              HasSubstr("data.tsv:3: the row has 3 fields, the header only 2"));
  EXPECT_THAT(Error(Tsv("text\tlabel\nok\t1\n  \t1\n")),
              HasSubstr("data.tsv:3: empty text"));
  EXPECT_THAT(Error(Tsv("text\tlabel\nok\t1\n\nfine\t \n")),
              HasSubstr("data.tsv:4: missing label"));
  EXPECT_THAT(Error(Tsv("text\tlabel\nok\t1\nbad \xC3(\t1\n")),
              HasSubstr("data.tsv:3: invalid UTF-8"));
  EXPECT_THAT(Error(Tsv("")), HasSubstr("data.tsv: no examples"));
  EXPECT_THAT(Error(Tsv("text\tlabel\n")), HasSubstr("data.tsv: no examples"));
  EXPECT_THAT(Error(ParseDataset("text\tlabel\nx\t1\n", "data.tsv", Task::kTag,
                                 Format::kAuto)),
              HasSubstr("data.tsv: TSV files hold classification data only"));
}

TEST(CsvRecordsTest, Rfc4180) {
  absl::StatusOr<std::vector<CsvRecord>> records = ParseCsvRecords(
      "a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n,\"\",last\n"
      "\n"
      "end,",
      "f.csv");
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 4u);
  EXPECT_THAT((*records)[0].fields, ElementsAre("a", "b", "c"));
  EXPECT_EQ((*records)[0].line, 1);
  EXPECT_THAT((*records)[1].fields,
              ElementsAre("x, y", "say \"hi\"", "two\nlines"));
  EXPECT_EQ((*records)[1].line, 2);
  EXPECT_THAT((*records)[2].fields, ElementsAre("", "", "last"));
  EXPECT_EQ((*records)[2].line, 4);
  EXPECT_THAT((*records)[3].fields, ElementsAre("end", ""));
  EXPECT_EQ((*records)[3].line, 6);
}

TEST(CsvRecordsTest, Errors) {
  EXPECT_THAT(ParseCsvRecords("a,b\nx,\"open\nstill open\n", "f.csv")
                  .status()
                  .message(),
              HasSubstr("f.csv:2: unterminated quoted field"));
  EXPECT_THAT(ParseCsvRecords("a,b\n\"x\nz\"y,1\n", "f.csv").status().message(),
              HasSubstr("f.csv:3: unexpected \"y\" after a closing quote"));
  EXPECT_THAT(ParseCsvRecords("a,b\nab\"c,1\n", "f.csv").status().message(),
              HasSubstr("f.csv:2: quote inside an unquoted field"));
}

TEST(CsvTest, ReadsQuotedFields) {
  absl::StatusOr<Dataset> d =
      Csv("\xEF\xBB\xBFid,Sentence,label\r\n"
          "1,\"Hello, \"\"world\"\"\",pos\r\n"
          "2,\"multi\nline\",neg\r\n"
          "3,plain,2\r\n");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->classification.size(), 3u);
  EXPECT_EQ(d->classification[0].text, "Hello, \"world\"");
  EXPECT_EQ(d->classification[1].text, "multi\nline");
  EXPECT_EQ(d->classification[2].label, "2");
  EXPECT_THAT(d->labels, ElementsAre("2", "neg", "pos"));
}

TEST(CsvTest, ErrorsNameTheRecordLine) {
  // The record after a two-line field starts on line 4.
  EXPECT_THAT(Error(Csv("text,label\n\"a\nb\",1\nmissing\n")),
              HasSubstr("data.csv:4: missing column"));
  EXPECT_THAT(Error(Csv("text,label\nx,1,\n")),
              HasSubstr("data.csv:2: the row has 3 fields"));
  EXPECT_THAT(Error(Csv("text,label\n\"\",1\n")),
              HasSubstr("data.csv:2: empty text"));
  EXPECT_THAT(Error(Csv("text,label\nx,\"\"\n")),
              HasSubstr("data.csv:2: missing label"));
  EXPECT_THAT(Error(Csv("text,label\nx,1\n\"never closed,1\n")),
              HasSubstr("data.csv:3: unterminated quoted field"));
  EXPECT_THAT(Error(Csv("text,label\nx,1\ny\xFF,1\n")),
              HasSubstr("data.csv:3: invalid UTF-8"));
  EXPECT_THAT(Error(ParseDataset("text,label\nx,1\n", "d.csv", Task::kTag,
                                 Format::kAuto)),
              HasSubstr("d.csv: CSV files hold classification data only"));
}

TEST(DatasetLabelsTest, IntegerLabelsSortNumerically) {
  std::string contents = "text\tlabel\n";
  for (const char* label : {"10", "2", "0", "1", "2", "-1"}) {
    contents += std::string("x\t") + label + "\n";
  }
  absl::StatusOr<Dataset> d = Tsv(contents);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->labels, ElementsAre("-1", "0", "1", "2", "10"));
  // One non-integer label: bytewise order for all.
  d = Tsv("text\tlabel\nx\t10\nx\t2\nx\t02\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->labels, ElementsAre("02", "10", "2"));
}

TEST(FormatFromPathTest, FromPath) {
  EXPECT_EQ(*FormatFromPath("a/b.TSV"), Format::kTsv);
  EXPECT_EQ(*FormatFromPath("b.csv"), Format::kCsv);
  EXPECT_EQ(*FormatFromPath("b.jsonl"), Format::kJsonl);
  EXPECT_EQ(*FormatFromPath("b.json"), Format::kJsonl);
  EXPECT_EQ(*FormatFromPath("b.conll"), Format::kConll);
  EXPECT_EQ(*FormatFromPath("valid.txt"), Format::kConll);
  EXPECT_EQ(*FormatFromPath("x.iob"), Format::kConll);
  EXPECT_EQ(*FormatFromPath("x.bio"), Format::kConll);
  EXPECT_THAT(FormatFromPath("dir.v2/data").status().message(),
              HasSubstr("cannot tell the dataset format"));
  EXPECT_FALSE(FormatFromPath("data.parquet").ok());
  // An explicit format overrides the name.
  absl::StatusOr<Dataset> d = ParseDataset("text\tlabel\nx\t1\n", "upload",
                                           Task::kClassify, Format::kTsv);
  EXPECT_TRUE(d.ok()) << d.status();
}

TEST(ReadDatasetTest, MissingFile) {
  absl::StatusOr<Dataset> d =
      ReadDataset("/nonexistent/ptune/x.tsv", Task::kClassify);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(d.status().message(), HasSubstr("/nonexistent/ptune/x.tsv"));
  d = ReadDataset("/", Task::kClassify, Format::kTsv);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ptune::datasets
