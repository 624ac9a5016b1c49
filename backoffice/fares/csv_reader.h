#pragma once
// CsvReader: RFC 4180 comma-separated records as GTFS uses them (and as the fare CLI's tap file
// does): a header line of field names, quoted fields with "" for a quote, CRLF or LF line ends,
// an optional UTF-8 byte order mark. Records are returned one at a time as views, so a large
// file (stop_times.txt) is never copied whole into per-field strings.

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace faregate::fares {

class CsvReader {
 public:
  // `text` must outlive the reader and every view it returns. `file_name` prefixes errors.
  CsvReader(std::string_view text, std::string file_name);

  // Reads the next record into `fields` (views valid until the next call). Blank lines are
  // skipped. Returns false at end of input. Errors (an unterminated quote, text after a closing
  // quote) name the file and line: "stops.txt:12: ...".
  Result<bool> next(std::vector<std::string_view>& fields);

  // Physical line (1-based) where the record last returned by next() starts.
  std::uint32_t line() const { return record_line_; }
  const std::string& file_name() const { return file_name_; }

 private:
  std::string_view text_;
  std::string file_name_;
  std::size_t pos_ = 0;
  std::uint32_t current_line_ = 1;
  std::uint32_t record_line_ = 0;
  // Unescaped copies of quoted fields that contained "" (a deque keeps them in place while the
  // record's views are in use).
  std::deque<std::string> scratch_;
};

// A CSV file whose first record is its header. Columns are found by name; columns the reader
// does not ask for are ignored (real feeds carry many unadopted fields).
class CsvTable {
 public:
  // Reads the header. An empty file is an error (GTFS requires the header line).
  static Result<CsvTable> open(std::string_view text, std::string file_name);

  // Column number of `name`, or -1 when the file has no such column.
  int column(std::string_view name) const;
  bool has_column(std::string_view name) const { return column(name) >= 0; }

  // Next data record; false at the end. A record with more fields than the header is an error;
  // one with fewer has its missing trailing fields read as empty.
  Result<bool> next();
  // The field of the current record in column `col` (empty when col < 0 or the record is short).
  std::string_view field(int col) const {
    return col >= 0 && static_cast<std::size_t>(col) < fields_.size() ? fields_[static_cast<std::size_t>(col)]
                                                                        : std::string_view{};
  }
  std::uint32_t line() const { return reader_.line(); }
  const std::string& file_name() const { return reader_.file_name(); }
  // "fare_leg_rules.txt:7: <message>" for the current record.
  Error error_here(std::string_view message) const;

 private:
  explicit CsvTable(CsvReader reader) : reader_(std::move(reader)) {}
  CsvReader reader_;
  std::vector<std::string> header_;
  std::vector<std::string_view> fields_;
};

}  // namespace faregate::fares
