// Foreign ABI: an x32 system call (the native number with bit 30 set; getpid is 39).
#include "masker_api.h"

void select(const adrs::Row&, adrs::Selection& out) {
#if defined(__x86_64__)
  long result = 0x40000000L | 39;
  asm volatile("syscall" : "+a"(result) : : "rcx", "r11", "memory");
#endif
  out.add(0);
}
