// Logging and failure injection shared by the stand-in libraries. Each
// library compiles its own static copy, with its control functions named
// after it (standin_<lib>_control, standin_<lib>_fail).
#pragma once
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <map>
#include <mutex>
#include <string>

static std::mutex standin_mu;
static std::string standin_log_path;
static std::map<std::string, int> standin_failures;

// standin_log appends one line to the log: the function name, then
// key=value pairs.
static void standin_log(const char* fmt, ...) {
  std::lock_guard<std::mutex> g(standin_mu);
  if (standin_log_path.empty()) return;
  FILE* f = fopen(standin_log_path.c_str(), "a");
  if (!f) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fputc('\n', f);
  fclose(f);
}

// standin_failure returns (and forgets) the status chosen for the next
// call of fn, or 0.
static int standin_failure(const char* fn) {
  std::lock_guard<std::mutex> g(standin_mu);
  auto it = standin_failures.find(fn);
  if (it == standin_failures.end()) return 0;
  int code = it->second;
  standin_failures.erase(it);
  return code;
}

#define STANDIN_CONTROL(lib)                                                   \
  extern "C" void standin_##lib##_control(const char* logpath) {               \
    std::lock_guard<std::mutex> g(standin_mu);                                 \
    standin_log_path = logpath ? logpath : "";                                 \
    standin_failures.clear();                                                  \
  }                                                                            \
  extern "C" void standin_##lib##_fail(const char* fn, int code) {             \
    std::lock_guard<std::mutex> g(standin_mu);                                 \
    standin_failures[fn] = code;                                               \
  }

// FAIL returns the injected status of the current function, if any.
#define FAIL()                                          \
  do {                                                  \
    int standin_code_ = standin_failure(__func__);      \
    if (standin_code_) {                                \
      standin_log("%s status=%d", __func__, standin_code_); \
      return standin_code_;                             \
    }                                                   \
  } while (0)
