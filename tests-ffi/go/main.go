// Command ffi-go sends one message to msrp-peer through libmsrp's C API
// (cgo, standard library only).
//
//	ffi-go PEER_PATH_LINE
//
// It prints its own "PATH ..." line on stdout, connects to the peer whose
// "PATH ..." line is the argument, sends a text, waits for on_message_sent
// (a cgo-exported callback run on a libmsrp dispatcher thread) and shuts the
// session down cleanly. tests-ffi/go/run.sh wires it to msrp-peer.
package main

/*
#cgo LDFLAGS: -lmsrp
#include <stdlib.h>
#include <msrp.h>

extern void goOnSent(void *user_data, char *message_id, uint16_t code, uint64_t bytes);
extern void goOnClosed(void *user_data, uint32_t reason, char *text, void *unfinished, size_t n);

static void on_sent(void *ud, const char *id, uint16_t code, uint64_t bytes) {
	goOnSent(ud, (char *)id, code, bytes);
}
static void on_closed(void *ud, msrp_close_reason_t reason, const char *text,
                      const msrp_unfinished_t *unfinished, size_t n) {
	goOnClosed(ud, reason, (char *)text, (void *)unfinished, n);
}
static msrp_result_t new_session(msrp_transport_t *t, msrp_session_t **out) {
	msrp_session_config_t cfg = {0};
	cfg.size = sizeof cfg;
	cfg.on_message_sent = on_sent;
	cfg.on_closed = on_closed;
	return msrp_session_new(t, &cfg, out);
}
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"unsafe"
)

type sentEvent struct {
	id   string
	code int
}

var (
	sent   = make(chan sentEvent, 1)
	closed = make(chan string, 1)
)

//export goOnSent
func goOnSent(userData unsafe.Pointer, id *C.char, code C.uint16_t, bytes C.uint64_t) {
	sent <- sentEvent{C.GoString(id), int(code)}
}

//export goOnClosed
func goOnClosed(userData unsafe.Pointer, reason C.uint32_t, text *C.char, unfinished unsafe.Pointer, n C.size_t) {
	closed <- C.GoString(text)
}

func check(r C.msrp_result_t, what string) {
	if r != C.MSRP_RESULT_OK {
		buf := make([]byte, 512)
		C.msrp_last_error((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
		fmt.Fprintf(os.Stderr, "%s: %s (%s)\n", what, strings.TrimRight(string(buf), "\x00"),
			C.GoString(C.msrp_result_str(r)))
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) != 2 || !strings.HasPrefix(os.Args[1], "PATH ") {
		fmt.Fprintln(os.Stderr, "usage: ffi-go \"PATH <uri> ...\"")
		os.Exit(2)
	}
	var conn *C.msrp_connector_t
	check(C.msrp_connector_direct_new(nil, &conn), "connector")
	var path *C.char
	check(C.msrp_connector_prepare(conn, nil, &path), "prepare")
	fmt.Printf("PATH %s\n", C.GoString(path))
	C.msrp_string_free(path)

	remote := C.CString(strings.TrimPrefix(os.Args[1], "PATH "))
	defer C.free(unsafe.Pointer(remote))
	var transport *C.msrp_transport_t
	check(C.msrp_connector_complete(conn, remote, nil, 10000, &transport), "complete")
	var session *C.msrp_session_t
	check(C.new_session(transport, &session), "session")

	body := []byte("hello from Go")
	ct := C.CString("text/plain")
	defer C.free(unsafe.Pointer(ct))
	var id *C.char
	check(C.msrp_session_send_message(session, ct, (*C.uint8_t)(unsafe.Pointer(&body[0])),
		C.size_t(len(body)), nil, &id), "send")
	messageID := C.GoString(id)
	C.msrp_string_free(id)

	ev := <-sent
	if ev.id != messageID || ev.code != 200 {
		fmt.Fprintf(os.Stderr, "unexpected on_message_sent: %+v\n", ev)
		os.Exit(1)
	}
	check(C.msrp_session_shutdown(session, true), "shutdown")
	<-closed
	C.msrp_session_free(session)
	C.msrp_connector_free(conn)
	check(C.msrp_library_shutdown(), "library shutdown")
	fmt.Printf("SENT %s %d\n", messageID, ev.code)
}
