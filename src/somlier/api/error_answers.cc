#include "somlier/api/error_answers.h"

namespace somlier::api {

void SendMlflowError(httplib::Response& response, const Status& status) {
  const StatusCodeInfo& info = InfoFor(status.code());
  SendMlflowError(response, info.mlflow_http_status, info.mlflow_error_code, ClientMessage(status));
}

void SendSeedError(httplib::Response& response, const Status& status) {
  const int code = status.http_status();
  SendJson(
      response,
      {{"status_code", code}, {"title", ReasonPhrase(code)}, {"detail", ClientMessage(status)}},
      code);
}

}  // namespace somlier::api
