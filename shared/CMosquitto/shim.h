#ifndef KUBEEDGE_SWIFT_CMOSQUITTO_SHIM_H
#define KUBEEDGE_SWIFT_CMOSQUITTO_SHIM_H
#include <mosquitto.h>
#endif
