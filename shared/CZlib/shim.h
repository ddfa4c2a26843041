#ifndef KUBEEDGE_SWIFT_CZLIB_SHIM_H
#define KUBEEDGE_SWIFT_CZLIB_SHIM_H
#include <zlib.h>
#endif
