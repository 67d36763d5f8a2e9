#ifndef STUDYBUDDY_CSYSTEMD_SHIM_H
#define STUDYBUDDY_CSYSTEMD_SHIM_H
#include <systemd/sd-daemon.h>
#endif
