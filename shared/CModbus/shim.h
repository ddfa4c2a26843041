#include <modbus.h>
#include <errno.h>

// libmodbus reports errors through errno; Swift cannot read the errno macro portably, so read it here.
static inline int cmodbus_errno(void) { return errno; }
