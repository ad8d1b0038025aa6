#include "somlier/serving/model_input.h"

namespace somlier::serving {

bool ModelInput::SameLayout(const ModelInput& other) const {
  if (tensor != other.tensor || row_shape != other.row_shape || dtype != other.dtype ||
      names != other.names || columns.size() != other.columns.size()) {
    return false;
  }
  for (size_t c = 0; c < columns.size(); ++c) {
    const TypedColumn& a = columns[c];
    const TypedColumn& b = other.columns[c];
    if (a.type != b.type || a.nullable != b.nullable || a.name != b.name) return false;
  }
  return true;
}

void ModelInput::Append(const ModelInput& other) {
  for (size_t c = 0; c < columns.size(); ++c) {
    TypedColumn& to = columns[c];
    const TypedColumn& from = other.columns[c];
    if (WireWidth(to.type) == 0 && !to.data.empty() && !from.data.empty()) to.data += ',';
    to.data += from.data;
    to.nulls += from.nulls;
  }
  rows += other.rows;
}

size_t ModelInput::bytes() const {
  size_t total = 0;
  for (const TypedColumn& c : columns) total += c.data.size() + c.nulls.size();
  return total;
}

}  // namespace somlier::serving
