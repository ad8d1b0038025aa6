// ParamGrid: the parameter specs of `somlier online train --NAME SPEC ...` and the grid of
// combinations they make.
//
//   start..end..increment   numpy.arange semantics (end exclusive; a negative increment
//                           counts down), computed in decimal, so 0.1..0.4..0.1 gives 0.1,
//                           0.2, 0.3 (numpy's float arange wrongly adds 0.4); values are
//                           written with the inputs' precision (0.003, never
//                           0.0030000000000000005) and integers stay integers
//   a,b,c                   a discrete list (each item as written)
//   anything else           one value
//
// The grid is the cartesian product in the order the parameters were given (the first
// varies slowest). Errors are InvalidArgument naming the parameter and its spec: a range
// that is not three plain decimals, an increment of 0 or pointing away from the end, an
// empty expansion, an empty list item, and grids above the size limit. Pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "somlier/core/result.h"

namespace somlier {

struct ParamSpec {
  std::string name;
  std::string spec;
};

// One parameter's values.
Result<std::vector<std::string>> ExpandParamSpec(const std::string& name, const std::string& spec);

using ParamCombination = std::vector<std::pair<std::string, std::string>>;  // name, value

// Every combination; at most `max_combinations` (else InvalidArgument). No parameters make
// one empty combination. Errors: those of ExpandParamSpec, a parameter given twice.
Result<std::vector<ParamCombination>> ExpandParamGrid(const std::vector<ParamSpec>& params,
                                                      size_t max_combinations = 1000);

}  // namespace somlier
