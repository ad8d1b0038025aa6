// Result<T>: either a value of type T or a non-OK Status explaining why there is none.
//
// The return type of every operation that produces a value and can fail in an expected
// way. Accessing value() of a failed Result is a programming error (checked by assert).
// Use SOMLIER_ASSIGN_OR_RETURN (status.h) to unwrap and propagate.
#pragma once

#include <cassert>
#include <utility>
#include <variant>

#include "somlier/core/status.h"

namespace somlier {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::in_place_index<0>, std::move(value)) {}        // NOLINT: implicit
  Result(Status status) : data_(std::in_place_index<1>, std::move(status)) {  // NOLINT
    assert(!std::get<1>(data_).ok() && "Result constructed from an OK Status");
  }

  bool ok() const { return data_.index() == 0; }

  // OK when a value is present.
  Status status() const& { return ok() ? OkStatus() : std::get<1>(data_); }
  Status status() && { return ok() ? OkStatus() : std::get<1>(std::move(data_)); }

  T& value() & {
    assert(ok());
    return std::get<0>(data_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(data_));
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace somlier
