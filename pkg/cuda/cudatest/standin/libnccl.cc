// Stand-in libnccl.so.2 for the CI tests: logs every call with its
// arguments. ncclGetUniqueId writes a known byte pattern and
// ncclCommInitRank checks that the 128-byte id arrived intact by value
// (idok=1); an all-reduce over one rank copies send to recv.
#include <stdint.h>
#include <stdlib.h>

#include "standin.h"

typedef int ncclResult_t;
typedef struct {
  char internal[128];
} ncclUniqueId;

struct Comm {
  int nranks, rank;
};

STANDIN_CONTROL(nccl)

static int dsize(int dt) {
  switch (dt) {
    case 0: case 1: return 1;
    case 2: case 3: case 7: return 4;
    case 4: case 5: case 8: return 8;
    default: return 2;
  }
}

extern "C" {

ncclResult_t ncclGetVersion(int* v) {
  FAIL();
  *v = 22105;
  return 0;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  FAIL();
  for (int i = 0; i < 128; i++) id->internal[i] = (char)(i * 7 + 3);
  standin_log("ncclGetUniqueId");
  return 0;
}

ncclResult_t ncclCommInitRank(void** comm, int nranks, ncclUniqueId id, int rank) {
  FAIL();
  int ok = 1;
  for (int i = 0; i < 128; i++)
    if (id.internal[i] != (char)(i * 7 + 3)) ok = 0;
  standin_log("ncclCommInitRank nranks=%d rank=%d idok=%d first=%d last=%d", nranks, rank, ok, (unsigned char)id.internal[0],
              (unsigned char)id.internal[127]);
  Comm* c = new Comm{nranks, rank};
  *comm = c;
  return 0;
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, int dt, int op, void* comm, void* stream) {
  FAIL();
  Comm* c = (Comm*)comm;
  standin_log("ncclAllReduce send=%p recv=%p count=%zu datatype=%d op=%d nranks=%d stream=%p", send, recv, count, dt, op,
              c->nranks, stream);
  if (c->nranks == 1 && send != recv) memcpy(recv, send, count * dsize(dt));
  return 0;
}

ncclResult_t ncclCommDestroy(void* comm) {
  FAIL();
  standin_log("ncclCommDestroy");
  delete (Comm*)comm;
  return 0;
}

ncclResult_t ncclGroupStart(void) {
  FAIL();
  standin_log("ncclGroupStart");
  return 0;
}

ncclResult_t ncclGroupEnd(void) {
  FAIL();
  standin_log("ncclGroupEnd");
  return 0;
}

const char* ncclGetErrorString(ncclResult_t r) {
  static char buf[64];
  snprintf(buf, sizeof buf, "stand-in NCCL error %d", r);
  return buf;
}

}  // extern "C"
