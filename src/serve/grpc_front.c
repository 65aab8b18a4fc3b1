/* grpc_front.c - the gRPC front on gRPC's C core (libgrpc): the core
 * does HTTP/2, flow control, deadlines, keepalive and TLS; this file
 * listens on --port and --grpc_port, takes every call (generic, no
 * registered methods), reads its one request message into a contiguous
 * block, checks the bearer token, hands the call to its method's handler
 * (grpc_tfs.c, grpc_kserve.c, grpc_health.c) and sends the answer the
 * handler gives, from whichever thread gives it.
 *
 * Threads: --grpc_max_threads threads wait on one completion queue. A call
 * has up to three operations in the core at once (receive the message,
 * receive the close, send the answer) and one owner outside it (the
 * handler, until it answers); each holds a reference, and the last one
 * let go frees the call. So a client that cancels while its job is still
 * queued changes nothing: the job answers into a call the core has
 * already failed, that answer's completion lets go, and the call is freed
 * once the close has arrived too. */
#include "serve/grpc_front.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve/bind.h"
#include "serve/request_log.h"
#include "serve/security.h"

typedef enum tag_kind {
  TAG_NEW_CALL, /* grpc_server_request_call matched a call */
  TAG_RECEIVED, /* the request message is in (or the call failed) */
  TAG_CLOSED,   /* the call is over for the client (done or cancelled) */
  TAG_SENT,     /* the answer's batch finished */
  TAG_SHUTDOWN, /* grpc_server_shutdown_and_notify: no call is left */
} tag_kind;

typedef struct tag {
  tag_kind kind;
  struct serve_grpc_call_private *call; /* NULL for TAG_SHUTDOWN */
} tag;

typedef struct serve_grpc serve_grpc;

struct serve_grpc_call_private {
  serve_grpc_call pub;
  serve_grpc *front;
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array metadata;
  char *metadata_text; /* "key\0value\0" pairs, for serve_grpc_metadata */
  char *path;          /* the method, NUL-terminated */
  grpc_byte_buffer *received;
  int cancelled; /* set by RECV_CLOSE_ON_SERVER */
  atomic_int refs;
  atomic_bool answered;
  tag new_call, recv, closed, sent;
  /* The answer. */
  grpc_byte_buffer *response;
  size_t response_len;
  grpc_status_code status;
  grpc_slice status_details;
  serve_code code; /* for metrics: the handler's outcome */
  /* While the message is arriving: in the front's list, so a stop or the
   * receive deadline can cancel it. */
  bool receiving;
  double receive_started_ms;
  struct serve_grpc_call_private *prev, *next;
};
typedef struct serve_grpc_call_private call_private;

struct serve_grpc {
  serve_server *server;
  grpc_server *grpc;
  grpc_completion_queue *cq;
  pthread_t *threads;
  int num_threads;
  tag shutdown_tag;
  pthread_mutex_t lock;
  pthread_cond_t changed;
  bool stopping;           /* new calls are refused */
  bool shutdown_done;      /* TAG_SHUTDOWN arrived */
  int calls;               /* calls accepted and not yet freed */
  int before_handler;      /* calls accepted whose handler has not returned */
  call_private *receiving; /* calls whose message is arriving */
  _Atomic double last_scan_ms; /* the last look for slow receivers */
  int64_t max_message;
};

/* ------------------------------------------------------------ status */

static grpc_status_code grpc_code(serve_code code) {
  switch (code) {
    case SERVE_OK:
      return GRPC_STATUS_OK;
    case SERVE_CANCELLED:
      return GRPC_STATUS_CANCELLED;
    case SERVE_INVALID_ARGUMENT:
      return GRPC_STATUS_INVALID_ARGUMENT;
    case SERVE_DEADLINE_EXCEEDED:
      return GRPC_STATUS_DEADLINE_EXCEEDED;
    case SERVE_NOT_FOUND:
      return GRPC_STATUS_NOT_FOUND;
    case SERVE_RESOURCE_EXHAUSTED:
    case SERVE_PAYLOAD_TOO_LARGE: /* gRPC's word for a message too large */
      return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case SERVE_FAILED_PRECONDITION:
      return GRPC_STATUS_FAILED_PRECONDITION;
    case SERVE_UNIMPLEMENTED:
      return GRPC_STATUS_UNIMPLEMENTED;
    case SERVE_INTERNAL:
      return GRPC_STATUS_INTERNAL;
    case SERVE_UNAVAILABLE:
      return GRPC_STATUS_UNAVAILABLE;
    case SERVE_PERMISSION_DENIED:
      return GRPC_STATUS_PERMISSION_DENIED;
    case SERVE_UNAUTHENTICATED:
      return GRPC_STATUS_UNAUTHENTICATED;
  }
  return GRPC_STATUS_UNKNOWN;
}

/* grpc/status.h's names, as TF Serving's request_count labels them. */
static const char *grpc_code_name(grpc_status_code code) {
  static const char *const names[] = {"OK",
                                      "CANCELLED",
                                      "UNKNOWN",
                                      "INVALID_ARGUMENT",
                                      "DEADLINE_EXCEEDED",
                                      "NOT_FOUND",
                                      "ALREADY_EXISTS",
                                      "PERMISSION_DENIED",
                                      "RESOURCE_EXHAUSTED",
                                      "FAILED_PRECONDITION",
                                      "ABORTED",
                                      "OUT_OF_RANGE",
                                      "UNIMPLEMENTED",
                                      "INTERNAL",
                                      "UNAVAILABLE",
                                      "DATA_LOSS",
                                      "UNAUTHENTICATED"};
  unsigned i = (unsigned)code;
  return i < sizeof names / sizeof names[0] ? names[i] : "UNKNOWN";
}

/* --------------------------------------------------------- the calls */

static char *slice_text(grpc_slice slice) {
  size_t len = GRPC_SLICE_LENGTH(slice);
  char *text = malloc(len + 1);
  if (!text) return NULL;
  memcpy(text, GRPC_SLICE_START_PTR(slice), len);
  text[len] = '\0';
  return text;
}

static call_private *call_new(serve_grpc *g) {
  call_private *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->front = g;
  c->pub.server = g->server;
  c->pub.front = c;
  grpc_call_details_init(&c->details);
  grpc_metadata_array_init(&c->metadata);
  c->status_details = grpc_empty_slice();
  c->new_call = (tag){TAG_NEW_CALL, c};
  c->recv = (tag){TAG_RECEIVED, c};
  c->closed = (tag){TAG_CLOSED, c};
  c->sent = (tag){TAG_SENT, c};
  return c;
}

/* Frees what a call holds; `counted`: it was accepted (counted in calls). */
static void call_free(call_private *c, bool counted) {
  serve_grpc *g = c->front;
  if (c->call) grpc_call_unref(c->call);
  grpc_call_details_destroy(&c->details);
  grpc_metadata_array_destroy(&c->metadata);
  if (c->received) grpc_byte_buffer_destroy(c->received);
  if (c->response) grpc_byte_buffer_destroy(c->response);
  grpc_slice_unref(c->status_details);
  free(c->metadata_text);
  free(c->path);
  free((void *)c->pub.request);
  free(c);
  if (counted) {
    pthread_mutex_lock(&g->lock);
    g->calls--;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
  }
}

static void call_release(call_private *c) {
  if (atomic_fetch_sub(&c->refs, 1) == 1) call_free(c, true);
}

/* Arms one more request for a new call. */
static void request_call(serve_grpc *g) {
  call_private *c = call_new(g);
  if (!c) {
    serve_log(NULL, "grpc: out of memory; one fewer call awaited");
    return;
  }
  grpc_call_error e = grpc_server_request_call(
      g->grpc, &c->call, &c->details, &c->metadata, g->cq, g->cq, &c->new_call);
  if (e != GRPC_CALL_OK) call_free(c, false);
}

/* The answer, in one batch: headers, the message (OK only) and the
 * status. The call is the front's again from here. */
static void on_sent(serve_grpc *g, call_private *c, bool ok);

static void answer(call_private *c, serve_code code, grpc_status_code status,
                   const char *text, uint8_t *message, size_t len) {
  if (atomic_exchange(&c->answered, true)) { /* a second answer: a bug */
    free(message);
    return;
  }
  c->code = code;
  c->status = status;
  grpc_slice_unref(c->status_details);
  c->status_details = grpc_slice_from_copied_string(text ? text : "");
  grpc_op ops[3];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
  if (status == GRPC_STATUS_OK) {
    /* The slice takes the block and frees it with the buffer. */
    grpc_slice slice =
        message ? grpc_slice_new(message, len, free) : grpc_empty_slice();
    message = NULL;
    c->response = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    c->response_len = len;
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = c->response;
  }
  free(message);
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = status;
  ops[n++].data.send_status_from_server.status_details = &c->status_details;
  /* Refused at once, no completion will come: recorded and let go here. */
  if (grpc_call_start_batch(c->call, ops, n, &c->sent, NULL) != GRPC_CALL_OK)
    on_sent(c->front, c, false);
}

/* Refuses a call before its message is read: the status goes out as the
 * call is cancelled. An answer sent the usual way would leave the unread
 * message in the way of the client's close, and the call open until its
 * deadline (for ever without one). */
static void refuse(call_private *c, serve_code code, grpc_status_code status,
                   const char *text) {
  atomic_store(&c->answered, true);
  c->code = code;
  c->status = status;
  grpc_call_cancel_with_status(c->call, status, text, NULL);
  on_sent(c->front, c, true);
}

void serve_grpc_respond(serve_grpc_call *call, uint8_t *response, size_t len) {
  answer(call->front, SERVE_OK, GRPC_STATUS_OK, "", response, len);
}

void serve_grpc_fail(serve_grpc_call *call, serve_status *status) {
  serve_code code = status ? serve_status_code(status) : SERVE_INTERNAL;
  answer(call->front, code, grpc_code(code),
         status ? serve_status_message(status) : "no status", NULL, 0);
  serve_status_free(status);
}

const char *serve_grpc_metadata(const serve_grpc_call *call, const char *key) {
  const call_private *c = call->front;
  const char *p = c->metadata_text;
  for (size_t i = 0; p && i < c->metadata.count; i++) {
    const char *value = p + strlen(p) + 1;
    if (!strcmp(p, key)) return value;
    p = value + strlen(value) + 1;
  }
  return NULL;
}

/* Copies the metadata into "key\0value\0" pairs (the core's slices are
 * not NUL-terminated). gRPC keys arrive in lower case. */
static bool copy_metadata(call_private *c) {
  size_t total = 1;
  for (size_t i = 0; i < c->metadata.count; i++)
    total += GRPC_SLICE_LENGTH(c->metadata.metadata[i].key) +
             GRPC_SLICE_LENGTH(c->metadata.metadata[i].value) + 2;
  char *p = c->metadata_text = malloc(total);
  if (!p) return false;
  for (size_t i = 0; i < c->metadata.count; i++) {
    const grpc_slice *parts[2] = {&c->metadata.metadata[i].key,
                                  &c->metadata.metadata[i].value};
    for (int k = 0; k < 2; k++) {
      size_t len = GRPC_SLICE_LENGTH(*parts[k]);
      memcpy(p, GRPC_SLICE_START_PTR(*parts[k]), len);
      /* A NUL inside a value would end it early; HTTP/2 forbids it. */
      p[len] = '\0';
      p += len + 1;
    }
  }
  return true;
}

/* The client's deadline on serve_now_ms's clock; 0 when it set none. */
static double deadline_ms(gpr_timespec deadline, double now_ms) {
  if (gpr_time_cmp(deadline, gpr_inf_future(deadline.clock_type)) == 0)
    return 0;
  gpr_timespec left = gpr_time_sub(deadline, gpr_now(deadline.clock_type));
  double ms = (double)left.tv_sec * 1e3 + (double)left.tv_nsec / 1e6;
  double at = now_ms + ms;
  return at > 0 ? at : 1e-3; /* passed already: still a deadline */
}

static const serve_grpc_method *find_method(const char *path) {
  const serve_grpc_method *tables[] = {serve_grpc_tfs_methods,
                                       serve_grpc_kserve_methods,
                                       serve_grpc_health_methods};
  for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
    for (const serve_grpc_method *m = tables[t]; m->path; m++)
      if (!strcmp(m->path, path)) return m;
  return NULL;
}

/* Probes answer without the token: orchestrators probe without secrets. */
static bool needs_token(const char *path) {
  return strcmp(path, "/grpc.health.v1.Health/Check") != 0 &&
         strcmp(path, "/inference.GRPCInferenceService/ServerLive") != 0 &&
         strcmp(path, "/inference.GRPCInferenceService/ServerReady") != 0;
}

static void handler_done(serve_grpc *g) {
  pthread_mutex_lock(&g->lock);
  g->before_handler--;
  pthread_cond_broadcast(&g->changed);
  pthread_mutex_unlock(&g->lock);
}

static void receive_list_remove(serve_grpc *g, call_private *c) {
  pthread_mutex_lock(&g->lock);
  if (c->receiving) {
    if (c->prev)
      c->prev->next = c->next;
    else
      g->receiving = c->next;
    if (c->next) c->next->prev = c->prev;
    c->receiving = false;
    c->prev = c->next = NULL;
  }
  pthread_mutex_unlock(&g->lock);
}

/* A call the core has matched: its close awaited, then refused at once
 * or its message received. */
static void on_new_call(serve_grpc *g, call_private *c, bool ok) {
  if (!ok) { /* the server is shutting down: no call came */
    call_free(c, false);
    return;
  }
  pthread_mutex_lock(&g->lock);
  bool stopping = g->stopping;
  g->calls++;
  if (!stopping) g->before_handler++;
  pthread_mutex_unlock(&g->lock);
  if (!stopping) request_call(g); /* the next call */
  c->pub.received_ms = serve_now_ms();
  c->pub.deadline_ms = deadline_ms(c->details.deadline, c->pub.received_ms);
  /* Two references: the close's operation and the answer's path (the
   * message, the handler, the answer's batch). */
  atomic_store(&c->refs, 2);
  grpc_op close_op;
  memset(&close_op, 0, sizeof close_op);
  close_op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  close_op.data.recv_close_on_server.cancelled = &c->cancelled;
  if (grpc_call_start_batch(c->call, &close_op, 1, &c->closed, NULL) !=
      GRPC_CALL_OK)
    atomic_fetch_sub(&c->refs, 1);
  c->path = slice_text(c->details.method);
  c->pub.method = c->path;
  if (stopping || !c->path || !copy_metadata(c)) {
    if (!stopping) handler_done(g);
    refuse(c, SERVE_UNAVAILABLE, GRPC_STATUS_UNAVAILABLE,
           stopping ? "the server is stopping" : "out of memory");
    return;
  }
  /* The token first: a client without it learns nothing, not even
   * which methods exist. */
  serve_server *s = g->server;
  if (needs_token(c->path) &&
      !serve_bearer_ok(s->bearer_token,
                       serve_grpc_metadata(&c->pub, "authorization"))) {
    handler_done(g);
    /* Counted under no model, as REST counts its refusals: naming one
     * would let a client without the token add series at will. */
    serve_metrics_request(s->metrics, "", 0, "auth", "UNAUTHENTICATED",
                          serve_code_http(SERVE_UNAUTHENTICATED), "GRPC", 0);
    refuse(c, SERVE_UNAUTHENTICATED, GRPC_STATUS_UNAUTHENTICATED,
           "missing or wrong bearer token: send metadata 'authorization: "
           "Bearer TOKEN'");
    return;
  }
  const serve_grpc_method *m = find_method(c->path);
  if (!m) {
    char text[400];
    handler_done(g);
    snprintf(text, sizeof text,
             "kiln serve has no method %.200s (it serves TF Serving's "
             "PredictionService and ModelService, KServe v2's "
             "GRPCInferenceService and grpc.health.v1.Health/Check)",
             c->path);
    refuse(c, SERVE_UNIMPLEMENTED, GRPC_STATUS_UNIMPLEMENTED, text);
    return;
  }
  c->pub.handler_state = (void *)m;
  pthread_mutex_lock(&g->lock);
  c->receiving = true;
  c->receive_started_ms = c->pub.received_ms;
  c->next = g->receiving;
  if (g->receiving) g->receiving->prev = c;
  g->receiving = c;
  pthread_mutex_unlock(&g->lock);
  grpc_op recv_op;
  memset(&recv_op, 0, sizeof recv_op);
  recv_op.op = GRPC_OP_RECV_MESSAGE;
  recv_op.data.recv_message.recv_message = &c->received;
  if (grpc_call_start_batch(c->call, &recv_op, 1, &c->recv, NULL) !=
      GRPC_CALL_OK) {
    receive_list_remove(g, c);
    handler_done(g);
    refuse(c, SERVE_INTERNAL, GRPC_STATUS_INTERNAL,
           "cannot receive the request");
  }
}

/* The message into one malloc'd block: the core hands several slices,
 * and a compressed message is inflated by the reader. */
static serve_status *read_message(call_private *c, int64_t limit) {
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, c->received))
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "the request message cannot be decompressed");
  size_t cap = grpc_byte_buffer_length(c->received), len = 0;
  uint8_t *data = malloc(cap ? cap : 1);
  serve_status *st = data ? NULL : serve_error(SERVE_INTERNAL, "out of memory");
  grpc_slice slice;
  while (!st && grpc_byte_buffer_reader_next(&reader, &slice)) {
    size_t n = GRPC_SLICE_LENGTH(slice);
    if (n > (size_t)limit - len) {
      st = serve_error(SERVE_RESOURCE_EXHAUSTED,
                       "the request message is larger than "
                       "--max_body_bytes=%lld",
                       (long long)limit);
    } else if (len + n > cap) {
      size_t grown = 2 * cap > len + n ? 2 * cap : len + n;
      if (grown > (size_t)limit) grown = (size_t)limit;
      uint8_t *bigger = realloc(data, grown);
      if (bigger) {
        data = bigger;
        cap = grown;
      } else {
        st = serve_error(SERVE_INTERNAL, "out of memory");
      }
    }
    if (!st) {
      memcpy(data + len, GRPC_SLICE_START_PTR(slice), n);
      len += n;
    }
    grpc_slice_unref(slice);
  }
  grpc_byte_buffer_reader_destroy(&reader);
  if (st) {
    free(data);
    return st;
  }
  c->pub.request = data;
  c->pub.request_len = len;
  return NULL;
}

static void on_received(serve_grpc *g, call_private *c, bool ok) {
  receive_list_remove(g, c);
  if (!ok) { /* the call failed (cancelled, reset): nothing to answer */
    handler_done(g);
    atomic_store(&c->answered, true);
    call_release(c);
    return;
  }
  serve_status *st =
      c->received ? read_message(c, g->max_message)
                  : serve_error(SERVE_INVALID_ARGUMENT,
                                "the call carried no request message (a unary "
                                "method takes one)");
  if (st) {
    handler_done(g);
    serve_grpc_fail(&c->pub, st);
    return;
  }
  grpc_byte_buffer_destroy(c->received);
  c->received = NULL;
  const serve_grpc_method *m = c->pub.handler_state;
  c->pub.handler_state = NULL;
  m->handle(&c->pub);
  handler_done(g);
}

/* Metrics and the access log line, then the answer's reference. */
static void on_sent(serve_grpc *g, call_private *c, bool ok) {
  grpc_status_code status = ok ? c->status : GRPC_STATUS_CANCELLED;
  serve_code code = ok ? c->code : SERVE_CANCELLED;
  serve_finished_request f = {
      .entrypoint = "GRPC",
      .method = "POST",
      .path = c->path,
      .http_status = serve_code_http(code),
      .grpc_status = (int)status,
      .code_name = grpc_code_name(status),
      .request_bytes = c->pub.request_len,
      .response_bytes = ok ? c->response_len : 0,
      .received_ms = c->pub.received_ms,
      .model = c->pub.model,
      .version = c->pub.version,
      .api = c->pub.api,
  };
  serve_request_finished(g->server, &f);
  call_release(c);
}

/* Cancels calls whose message has taken longer than the limit to arrive
 * (all of them when limit_ms is 0): a client trickling a large message
 * holds memory and a stream. */
static void cancel_slow_receivers(serve_grpc *g, double limit_ms) {
  double now = serve_now_ms();
  pthread_mutex_lock(&g->lock);
  for (call_private *c = g->receiving; c; c = c->next)
    if (limit_ms <= 0 || now - c->receive_started_ms > limit_ms)
      grpc_call_cancel_with_status(c->call, GRPC_STATUS_DEADLINE_EXCEEDED,
                                   limit_ms <= 0
                                       ? "the server is stopping"
                                       : "the request message took longer than "
                                         "--request_body_timeout_ms to arrive",
                                   NULL);
  pthread_mutex_unlock(&g->lock);
}

static void *serve_thread(void *arg) {
  serve_grpc *g = arg;
  double body_limit = (double)g->server->options.request_body_timeout_ms;
  for (;;) {
    /* Wakes each second at least, and looks for slow receivers about once
     * a second whether busy or idle (one thread of all does it). */
    grpc_event ev = grpc_completion_queue_next(
        g->cq,
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                     gpr_time_from_millis(1000, GPR_TIMESPAN)),
        NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    double now = serve_now_ms(), last = atomic_load(&g->last_scan_ms);
    if (body_limit > 0 && now - last >= 1000 &&
        atomic_compare_exchange_strong(&g->last_scan_ms, &last, now))
      cancel_slow_receivers(g, body_limit);
    if (ev.type == GRPC_QUEUE_TIMEOUT) continue;
    tag *t = ev.tag;
    switch (t->kind) {
      case TAG_NEW_CALL:
        on_new_call(g, t->call, ev.success);
        break;
      case TAG_RECEIVED:
        on_received(g, t->call, ev.success);
        break;
      case TAG_SENT:
        on_sent(g, t->call, ev.success);
        break;
      case TAG_CLOSED:
        call_release(t->call);
        break;
      case TAG_SHUTDOWN:
        pthread_mutex_lock(&g->lock);
        g->shutdown_done = true;
        pthread_cond_broadcast(&g->changed);
        pthread_mutex_unlock(&g->lock);
        break;
    }
  }
  return NULL;
}

/* -------------------------------------------------------- the server */

enum { MAX_ARGS = 48 };

typedef struct arg_list {
  grpc_arg args[MAX_ARGS];
  size_t count;
  char *owned; /* --grpc_channel_arguments' copy, which keys point into */
} arg_list;

/* Sets key (replacing an earlier value: the user's come last and win). */
static bool set_arg(arg_list *l, char *key, bool integer, int value,
                    char *text) {
  size_t i = 0;
  while (i < l->count && strcmp(l->args[i].key, key) != 0) i++;
  if (i == MAX_ARGS) return false;
  if (i == l->count) l->count++;
  grpc_arg *a = &l->args[i];
  a->key = key;
  if (integer) {
    a->type = GRPC_ARG_INTEGER;
    a->value.integer = value;
  } else {
    a->type = GRPC_ARG_STRING;
    a->value.string = text;
  }
  return true;
}

static int clamp_int(int64_t v) {
  return v > INT_MAX ? INT_MAX : v < 0 ? 0 : (int)v;
}

/* kiln's channel arguments, then TF Serving's --grpc_channel_arguments
 * ("key=value,key=value"; integers, else text). */
static bool build_args(const serve_options *o, arg_list *l, char *err,
                       size_t err_size) {
  memset(l, 0, sizeof *l);
  /* grpc's 4 MB default would refuse a batch of images; TF Serving sets
   * no limit. kiln's limit is REST's body limit. */
  set_arg(l, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, true,
          clamp_int(o->max_body_bytes), NULL);
  set_arg(l, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, true, -1, NULL);
  /* Streams one connection may hold open at once. */
  set_arg(l, GRPC_ARG_MAX_CONCURRENT_STREAMS, true, 128, NULL);
  /* A connection that never finishes its HTTP/2 start is closed. */
  set_arg(l, GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, true,
          o->request_header_timeout_ms > 0
              ? clamp_int(o->request_header_timeout_ms)
              : 120000,
          NULL);
  /* A connection with no call for this long is sent GOAWAY (clients
   * reconnect when they next call). */
  set_arg(l, GRPC_ARG_MAX_CONNECTION_IDLE_MS, true,
          clamp_int(o->client_timeout_seconds * 1000), NULL);
  /* Peers that vanish while calls are open are found by pings. */
  set_arg(l, GRPC_ARG_KEEPALIVE_TIME_MS, true, 60000, NULL);
  set_arg(l, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, true, 20000, NULL);
  /* Clients may ping at most every 10 s without data; more often is a
   * strike, and two strikes close the connection (ping floods). */
  set_arg(l, GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, true, 10000,
          NULL);
  set_arg(l, GRPC_ARG_HTTP2_MAX_PING_STRIKES, true, 2, NULL);
  /* A port another process holds is an error, not shared (grpc sets
   * SO_REUSEPORT by default). */
  set_arg(l, GRPC_ARG_ALLOW_REUSEPORT, true, 0, NULL);
  if (!o->grpc_channel_arguments || !o->grpc_channel_arguments[0]) return true;
  l->owned = strdup(o->grpc_channel_arguments);
  if (!l->owned) {
    snprintf(err, err_size, "out of memory");
    return false;
  }
  char *save = NULL;
  for (char *item = strtok_r(l->owned, ",", &save); item;
       item = strtok_r(NULL, ",", &save)) {
    while (*item == ' ') item++;
    char *eq = strchr(item, '=');
    if (!eq || eq == item) {
      snprintf(err, err_size,
               "--grpc_channel_arguments: '%.100s' is not key=value", item);
      return false;
    }
    *eq = '\0';
    char *value = eq + 1, *end;
    long long v = strtoll(value, &end, 10);
    bool integer = *value && !*end && v >= INT_MIN && v <= INT_MAX;
    if (!set_arg(l, item, integer, (int)v, value)) {
      snprintf(err, err_size, "--grpc_channel_arguments: too many arguments");
      return false;
    }
  }
  return true;
}

static grpc_server_credentials *credentials(const serve_server *s) {
  if (!s->tls) return grpc_insecure_server_credentials_create();
  grpc_ssl_pem_key_cert_pair pair = {s->tls->server_key, s->tls->server_cert};
  return grpc_ssl_server_credentials_create_ex(
      s->tls->custom_ca, &pair, 1,
      s->tls->client_verify
          ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
          : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
      NULL);
}

static bool add_port(serve_grpc *g, grpc_server_credentials *creds,
                     int64_t port, const char *flag, char *err,
                     size_t err_size) {
  serve_bind_addr a;
  if (!serve_bind_resolve(g->server->options.host, (uint16_t)port, &a, err,
                          err_size))
    return false;
  /* "[::]:port" is every interface, IPv6 and IPv4, to gRPC as to REST. */
  if (!grpc_server_add_http2_port(g->grpc, a.text, creds)) {
    snprintf(err, err_size,
             "cannot listen on %s for gRPC (%s: in use, or not "
             "allowed)",
             a.text, flag);
    return false;
  }
  serve_log(NULL, "serving gRPC%s on %s (%s)",
            g->server->tls ? " over TLS" : "", a.text, flag);
  return true;
}

/* TF Serving's --grpc_socket_path: the same services on a UNIX socket,
 * for clients on the same host (file permissions guard it). */
static bool add_socket(serve_grpc *g, grpc_server_credentials *creds,
                       const char *path, char *err, size_t err_size) {
  char address[4200];
  if (strlen(path) >= sizeof address - 8) {
    snprintf(err, err_size, "--grpc_socket_path is too long");
    return false;
  }
  snprintf(address, sizeof address, "unix:%s", path);
  if (!grpc_server_add_http2_port(g->grpc, address, creds)) {
    snprintf(err, err_size,
             "cannot listen on --grpc_socket_path=%.200s (its folder must "
             "exist and be writable)",
             path);
    return false;
  }
  serve_log(NULL, "serving gRPC%s on %s (--grpc_socket_path)",
            g->server->tls ? " over TLS" : "", address);
  return true;
}

static void front_free(serve_grpc *g) {
  if (g->cq) grpc_completion_queue_destroy(g->cq);
  pthread_mutex_destroy(&g->lock);
  pthread_cond_destroy(&g->changed);
  free(g->threads);
  free(g);
  grpc_shutdown();
}

bool serve_grpc_start(serve_server *s, char *err, size_t err_size) {
  const serve_options *o = &s->options;
  if (!o->grpc_port && !o->kserve_grpc_port && !o->grpc_socket_path[0])
    return true;
  arg_list args;
  if (!build_args(o, &args, err, err_size)) {
    free(args.owned);
    return false;
  }
  grpc_init();
  serve_grpc *g = calloc(1, sizeof *g);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int threads = o->grpc_max_threads > 0 ? (int)o->grpc_max_threads
                                        : (int)(cores > 0 ? cores : 1);
  if (g) g->threads = calloc((size_t)threads, sizeof *g->threads);
  if (!g || !g->threads) {
    free(g);
    free(args.owned);
    grpc_shutdown();
    snprintf(err, err_size, "out of memory");
    return false;
  }
  g->server = s;
  g->max_message = o->max_body_bytes;
  g->shutdown_tag = (tag){TAG_SHUTDOWN, NULL};
  pthread_mutex_init(&g->lock, NULL);
  pthread_cond_init(&g->changed, NULL);
  grpc_channel_args channel_args = {args.count, args.args};
  g->grpc = grpc_server_create(&channel_args, NULL);
  free(args.owned); /* the server keeps copies */
  g->cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(g->grpc, g->cq, NULL);
  grpc_server_credentials *creds = credentials(s);
  bool ok = creds != NULL;
  if (!ok) snprintf(err, err_size, "gRPC: the TLS key or certificate is bad");
  if (ok && o->grpc_port)
    ok = add_port(g, creds, o->grpc_port, "--port", err, err_size);
  if (ok && o->kserve_grpc_port)
    ok = add_port(g, creds, o->kserve_grpc_port, "--grpc_port", err, err_size);
  if (ok && o->grpc_socket_path[0])
    ok = add_socket(g, creds, o->grpc_socket_path, err, err_size);
  if (creds) grpc_server_credentials_release(creds);
  if (!ok) {
    /* A server never started is shut down and destroyed the same way. */
    grpc_server_shutdown_and_notify(g->grpc, g->cq, &g->shutdown_tag);
    grpc_server_cancel_all_calls(g->grpc);
    grpc_event ev;
    do {
      ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                                      NULL);
    } while (ev.type == GRPC_OP_COMPLETE && ev.tag != &g->shutdown_tag);
    grpc_server_destroy(g->grpc);
    grpc_completion_queue_shutdown(g->cq);
    while (grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                                      NULL)
               .type != GRPC_QUEUE_SHUTDOWN) {
    }
    front_free(g);
    return false;
  }
  grpc_server_start(g->grpc);
  /* Calls awaited at once: a few per thread, so a burst of new calls
   * does not wait for a thread to arm the next. */
  for (int i = 0; i < 4 * threads; i++) request_call(g);
  for (int i = 0; i < threads; i++) {
    if (pthread_create(&g->threads[i], NULL, serve_thread, g) != 0) break;
    g->num_threads++;
  }
  s->grpc = g;
  return true;
}

/* Waits until done(g) holds, for at most timeout_ms (< 0: forever);
 * whether it holds. Called with g->lock held. */
static bool wait_until(serve_grpc *g, bool (*done)(const serve_grpc *),
                       double timeout_ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  double ns = (double)until.tv_nsec + (timeout_ms > 0 ? timeout_ms : 0) * 1e6;
  until.tv_sec += (time_t)(ns / 1e9);
  until.tv_nsec = (long)(ns - (double)(time_t)(ns / 1e9) * 1e9);
  while (!done(g))
    if (timeout_ms < 0)
      pthread_cond_wait(&g->changed, &g->lock);
    else if (pthread_cond_timedwait(&g->changed, &g->lock, &until) != 0)
      return done(g);
  return true;
}

static bool all_handed_over(const serve_grpc *g) {
  return g->before_handler == 0;
}

static bool all_freed(const serve_grpc *g) {
  return g->calls == 0 && g->shutdown_done;
}

void serve_grpc_stop_accepting(serve_server *s) {
  serve_grpc *g = s->grpc;
  if (!g) return;
  pthread_mutex_lock(&g->lock);
  bool again = g->stopping;
  g->stopping = true;
  pthread_mutex_unlock(&g->lock);
  if (again) return;
  /* No new connection or call; calls in flight go on. */
  grpc_server_shutdown_and_notify(g->grpc, g->cq, &g->shutdown_tag);
  /* Every call accepted reaches its handler before this returns: the
   * scheduler is stopped next, and a handler must not submit to it after.
   * A message still arriving after the client timeout is cancelled. */
  double timeout = 1e3 * (double)s->options.client_timeout_seconds;
  pthread_mutex_lock(&g->lock);
  bool handed = wait_until(g, all_handed_over, timeout);
  pthread_mutex_unlock(&g->lock);
  if (!handed) {
    cancel_slow_receivers(g, 0);
    pthread_mutex_lock(&g->lock);
    wait_until(g, all_handed_over, -1);
    pthread_mutex_unlock(&g->lock);
  }
}

void serve_grpc_stop(serve_server *s) {
  serve_grpc *g = s->grpc;
  if (!g) return;
  serve_grpc_stop_accepting(s); /* idempotent: a stop without it */
  /* Answers are sent; a client that does not read its answer (flow
   * control) is given the client timeout, then its call is cancelled. */
  double timeout = 1e3 * (double)s->options.client_timeout_seconds;
  pthread_mutex_lock(&g->lock);
  bool done = wait_until(g, all_freed, timeout);
  pthread_mutex_unlock(&g->lock);
  if (!done) {
    serve_log(NULL,
              "stopping: %d gRPC calls still open after %lld s; "
              "cancelling them",
              g->calls, (long long)s->options.client_timeout_seconds);
    grpc_server_cancel_all_calls(g->grpc);
    pthread_mutex_lock(&g->lock);
    done = wait_until(g, all_freed, 5000);
    int left = g->calls;
    pthread_mutex_unlock(&g->lock);
    if (!done) {
      /* A handler that never answered: the core cannot be destroyed
       * under its call, and exiting beats hanging. */
      serve_log(NULL,
                "stopping: %d gRPC calls never answered; left as they "
                "are",
                left);
      s->grpc = NULL;
      return;
    }
  }
  grpc_server_destroy(g->grpc);
  grpc_completion_queue_shutdown(g->cq);
  for (int i = 0; i < g->num_threads; i++) pthread_join(g->threads[i], NULL);
  s->grpc = NULL;
  front_free(g);
}
