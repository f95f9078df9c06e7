package serve

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Logger writes the access log: one line (or, with JSON, one event) per
// request, and one per content failure naming the file, image and digest,
// which a client's error response cannot.
type Logger struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
}

// NewLogger logs to w (nil: nowhere), as text lines or JSON events.
func NewLogger(w io.Writer, asJSON bool) *Logger {
	if w == nil {
		w = io.Discard
	}
	return &Logger{w: w, json: asJSON}
}

// Event is one JSON log record.
type Event struct {
	Time     string `json:"time"`
	Event    string `json:"event"` // "request", "failure", "listening", "note", "stopped"
	Remote   string `json:"remote,omitempty"`
	User     string `json:"user,omitempty"`
	Method   string `json:"method,omitempty"`
	Path     string `json:"path,omitempty"`
	Status   int    `json:"status,omitempty"`
	Bytes    int64  `json:"bytes,omitempty"`
	Millis   int64  `json:"ms,omitempty"`
	Repo     string `json:"repository,omitempty"`
	Image    string `json:"image,omitempty"`
	Digest   string `json:"digest,omitempty"`
	Addr     string `json:"addr,omitempty"`
	Message  string `json:"message,omitempty"`
	Aborted  bool   `json:"aborted,omitempty"`
	started  time.Time
	finished bool
}

func (l *Logger) emit(e Event, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.json {
		b, _ := json.Marshal(e)
		l.w.Write(append(b, '\n'))
		return
	}
	fmt.Fprintf(l.w, "%s %s\n", e.Time, text)
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// Info logs a server event (listening, a note, stopping).
func (l *Logger) Info(event, addr, msg string) {
	l.emit(Event{Time: now(), Event: event, Addr: addr, Message: msg}, event+" "+strconv.Quote(msg))
}

func (l *Logger) request(r *http.Request, lw *logWriter, user string) {
	ms := time.Since(lw.start()).Milliseconds()
	if lw.status == 0 {
		lw.status = http.StatusOK
	}
	e := Event{Time: now(), Event: "request", Remote: r.RemoteAddr, User: user, Method: r.Method, Path: r.URL.RequestURI(),
		Status: lw.status, Bytes: lw.n, Millis: ms, Aborted: lw.aborted}
	u := user
	if u == "" {
		u = "-"
	}
	cut := ""
	if lw.aborted {
		cut = " aborted"
	}
	l.emit(e, fmt.Sprintf("%s %s %s %q %d %d %dms%s", r.RemoteAddr, u, r.Method, r.URL.RequestURI(), lw.status, lw.n, ms, cut))
}

func (l *Logger) failure(r *http.Request, repo, image string, d ocispec.Descriptor, err error) {
	e := Event{Time: now(), Event: "failure", Remote: r.RemoteAddr, Method: r.Method, Path: r.URL.RequestURI(), Repo: repo, Image: image, Digest: d.Digest.String(), Message: err.Error()}
	l.emit(e, fmt.Sprintf("FAILURE %s %s: image %s, digest %s: %v", r.Method, r.URL.RequestURI(), image, d.Digest, err))
}

// logWriter records what a response sent, for the access log.
type logWriter struct {
	http.ResponseWriter
	status  int
	n       int64
	aborted bool
	t0      time.Time
	rc      *http.ResponseController
	idle    time.Duration
}

func (w *logWriter) start() time.Time { return w.t0 }

func (w *logWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	// A client that stops reading would hold its request slot for ever:
	// each write must go through within Config.WriteIdle, however long
	// the whole blob takes.
	if w.idle > 0 {
		if w.rc == nil {
			w.rc = http.NewResponseController(w.ResponseWriter)
		}
		w.rc.SetWriteDeadline(time.Now().Add(w.idle))
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *logWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
