#ifndef KUBEEDGE_SWIFT_CSQLITE_SHIM_H
#define KUBEEDGE_SWIFT_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
