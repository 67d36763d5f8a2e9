#ifndef STUDYBUDDY_CLIBPQ_SHIM_H
#define STUDYBUDDY_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
