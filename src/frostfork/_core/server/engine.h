/* server/engine.h — frostfork._core.Engine: the request path from bytes to
 * bytes, without a socket (engine.c). */
#ifndef FF_SERVER_ENGINE_H
#define FF_SERVER_ENGINE_H

#include "module.h"

extern PyType_Spec ff_engine_spec;

#endif
