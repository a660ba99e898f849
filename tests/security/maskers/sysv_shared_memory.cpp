// Class 4: leaves a System V shared memory segment behind (it would outlive the worker).
#include <sys/ipc.h>
#include <sys/shm.h>

#include "masker_api.h"

void select(const adrs::Row&, adrs::Selection& out) {
  shmget(IPC_PRIVATE, 1 << 20, IPC_CREAT | 0666);
  out.add(0);
}
