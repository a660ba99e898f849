// Foreign ABI: a 32-bit system call (int 0x80, getpid is 20 there) that an x86-64 filter
// written only for the native table would never see.
#include "masker_api.h"

void select(const adrs::Row&, adrs::Selection& out) {
#if defined(__x86_64__)
  long result = 20;
  asm volatile("int $0x80" : "+a"(result) : : "memory");
#endif
  out.add(0);
}
