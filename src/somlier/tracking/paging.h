// Paging: MLflow's search pages and their opaque `page_token` / `next_page_token`, which
// are base64 of {"offset": N} as MLflow's own server writes them, so tokens from either
// work with both.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "somlier/core/result.h"

namespace somlier {

template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_page_token;  // empty on the last page
};

std::string EncodePageToken(int64_t offset);

// An empty token is offset 0. Errors: InvalidArgument for anything that is not a token.
Result<int64_t> DecodePageToken(std::string_view token);

// The page of `rows`, which were fetched with max_results + 1 at `offset`: one extra row
// means another page follows.
template <typename T>
Page<T> MakePage(std::vector<T> rows, int64_t max_results, int64_t offset) {
  Page<T> page;
  if (static_cast<int64_t>(rows.size()) > max_results) {
    rows.resize(static_cast<size_t>(max_results));
    page.next_page_token = EncodePageToken(offset + max_results);
  }
  page.items = std::move(rows);
  return page;
}

}  // namespace somlier
