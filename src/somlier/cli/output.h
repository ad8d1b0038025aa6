// Output: how CLI commands print results on stdout — aligned tables, JSON, and the short
// forms of run fields (params, metrics, durations) that several commands show.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "somlier/net/http_routes.h"

namespace somlier::cli {

// Rows of cells, the first being the header, in columns two spaces apart.
void PrintTable(const std::vector<std::vector<std::string>>& rows);

// Indented JSON; invalid UTF-8 in strings is replaced, not an error.
void PrintJson(const nlohmann::json& value);

// `value` as a YAML document (block style; strings that YAML would read as something else
// are quoted), as kubectl prints manifests.
std::string ToYaml(const nlohmann::json& value);

// A server's route table as a JSON array of {"method", "path", "pattern"} (--print_routes).
void PrintRoutes(const std::vector<RouteInfo>& routes);

// {"lr": "0.1", "bs": "64"} -> "bs=64 lr=0.1".
std::string ParamsText(const nlohmann::json& params);

// A metric value as Python prints a float (numbers), or as sent ("NaN").
std::string MetricText(const nlohmann::json& value);

// Milliseconds as "850ms", "12.3s", "4m05s", "2h03m".
std::string DurationText(int64_t millis);

}  // namespace somlier::cli
