package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-ferry/ferry/layout"
)

// Config says how a Server names, guards and logs.
type Config struct {
	Options
	// Auth, if set, asks every request for basic credentials.
	Auth *Htpasswd
	// Log receives one event per request and one per content failure.
	Log *Logger
	// MaxRequests bounds the requests handled at once; beyond it a
	// client gets TOOMANYREQUESTS and the ones in flight keep their
	// share. Zero is DefaultMaxRequests.
	MaxRequests int
	// Label names the served path in messages.
	Label string
	// WriteIdle is how long one write to a client may stall before the
	// response is cut; zero is DefaultWriteIdle.
	WriteIdle time.Duration
}

// DefaultWriteIdle is far beyond any live network's pause, and short
// enough that clients that stop reading cannot hold every request slot
// for long (a slow client is fine: each write has its own deadline).
const DefaultWriteIdle = 2 * time.Minute

// DefaultMaxRequests is enough for a cluster of nodes pulling at once
// (docker opens 3 layer downloads per pull, containerd more), while the
// memory it bounds (a 64 KiB buffer each) stays at 16 MiB.
const DefaultMaxRequests = 256

// Server answers the pull API for one store. It is an http.Handler.
type Server struct {
	src      Content
	idx      *index
	cfg      Config
	verified *verifiedSet
	slots    chan struct{}
}

// New reads what src holds (every image's manifests, verified) and
// returns the server for it.
func New(ctx context.Context, src Content, cfg Config) (*Server, error) {
	idx, err := buildIndex(ctx, src, cfg.Options)
	if err != nil {
		return nil, err
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = DefaultMaxRequests
	}
	if cfg.Log == nil {
		cfg.Log = NewLogger(nil, false)
	}
	if cfg.WriteIdle <= 0 {
		cfg.WriteIdle = DefaultWriteIdle
	}
	if l, ok := src.(interface{ Label() string }); ok && cfg.Label == "" {
		cfg.Label = l.Label()
	}
	return &Server{src: src, idx: idx, cfg: cfg, verified: newVerifiedSet(maxVerified), slots: make(chan struct{}, cfg.MaxRequests)}, nil
}

// Repositories are the served names, sorted.
func (s *Server) Repositories() []string { return append([]string(nil), s.idx.names...) }

// Tags lists the tags of a served repository.
func (s *Server) Tags(name string) []string {
	if r := s.idx.repos[name]; r != nil {
		return append([]string(nil), r.tagList...)
	}
	return nil
}

// Notes say what in the store could not be served as named.
func (s *Server) Notes() []string { return append([]string(nil), s.idx.Notes...) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lw := &logWriter{ResponseWriter: w, t0: time.Now(), idle: s.cfg.WriteIdle}
	user := ""
	defer func() {
		// An aborted response is logged as such, then the panic goes on
		// to net/http, which cuts the connection.
		if v := recover(); v != nil {
			lw.aborted = true
			s.cfg.Log.request(r, lw, user)
			panic(v)
		}
		s.cfg.Log.request(r, lw, user)
	}()
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		lw.Header().Set("Retry-After", "1")
		writeError(lw, r, http.StatusTooManyRequests, codeTooMany, fmt.Sprintf("more than %d requests at once; try again", s.cfg.MaxRequests))
		return
	}
	lw.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if s.cfg.Auth != nil {
		u, ok := s.cfg.Auth.check(r)
		if !ok {
			lw.Header().Set("WWW-Authenticate", `Basic realm="ferry serve"`)
			writeError(lw, r, http.StatusUnauthorized, codeUnauthorized, "authentication required")
			return
		}
		user = u
	}
	rt := parseRoute(r.URL.Path)
	if r.Method != http.MethodGet && r.Method != http.MethodHead || rt.kind == routeUpload {
		lw.Header().Set("Allow", "GET, HEAD")
		writeError(lw, r, http.StatusMethodNotAllowed, codeUnsupported, "ferry serve is read-only: "+r.Method+" "+r.URL.Path+" is not supported")
		return
	}
	switch rt.kind {
	case routeBase:
		lw.Header().Set("Content-Type", "application/json")
		lw.Header().Set("Content-Length", "2")
		lw.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			lw.Write([]byte("{}"))
		}
		return
	case routeCatalog:
		s.list(lw, r, "/v2/_catalog", "repositories", "", s.idx.names)
		return
	case routeNone:
		writeError(lw, r, http.StatusNotFound, codeUnsupported, "no such endpoint: "+r.URL.Path)
		return
	}
	if !validName(rt.name) {
		writeError(lw, r, http.StatusBadRequest, codeNameInvalid, fmt.Sprintf("%.300q is not a valid repository name", rt.name))
		return
	}
	repo := s.idx.repos[rt.name]
	if repo == nil {
		writeError(lw, r, http.StatusNotFound, codeNameUnknown, fmt.Sprintf("repository %s is not served here (GET /v2/_catalog lists those that are)", rt.name))
		return
	}
	switch rt.kind {
	case routeTags:
		s.list(lw, r, "/v2/"+repo.name+"/tags/list", "tags", repo.name, repo.tagList)
	case routeManifest:
		s.manifest(lw, r, repo, rt.ref)
	case routeBlob:
		s.blob(lw, r, repo, rt.ref)
	case routeReferrers:
		s.referrers(lw, r, repo, rt.ref)
	}
}

// parseDigest validates a digest from a path; the answer for a bad one is
// DIGEST_INVALID, before anything is looked up.
func parseDigest(w http.ResponseWriter, r *http.Request, s string) (digest.Digest, bool) {
	d := digest.Digest(s)
	if err := layout.ValidateDigest(d); err != nil {
		writeError(w, r, http.StatusBadRequest, codeDigestInvalid, fmt.Sprintf("%.200q is not a digest this server can check (sha256 or sha512)", s))
		return "", false
	}
	return d, true
}

func (s *Server) manifest(w http.ResponseWriter, r *http.Request, repo *repository, ref string) {
	var desc ocispec.Descriptor
	if strings.Contains(ref, ":") {
		d, ok := parseDigest(w, r, ref)
		if !ok {
			return
		}
		c, found := repo.content[d]
		if !found || !isManifest(c.MediaType) {
			writeError(w, r, http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("no manifest %s in %s", d, repo.name))
			return
		}
		desc = c
	} else {
		t, found := repo.tags[ref]
		if !found {
			writeError(w, r, http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("%.200q is not a tag of %s", ref, repo.name))
			return
		}
		desc = t
	}
	h := w.Header()
	h.Set("Docker-Content-Digest", desc.Digest.String())
	h.Set("Content-Type", desc.MediaType)
	h.Set("Content-Length", strconv.FormatInt(desc.Size, 10))
	h.Set("ETag", `"`+desc.Digest.String()+`"`)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	// A manifest is small and bounded (layout.MaxManifestSize): it is
	// read and verified whole before a byte is sent, so a bad one is a
	// clean error rather than a cut body.
	raw, err := layout.ReadAll(r.Context(), s.src, desc, layout.MaxManifestSize)
	if err != nil {
		s.contentError(w, r, repo, desc, err)
		return
	}
	w.WriteHeader(http.StatusOK)
	w.Write(raw)
}

func isManifest(mt string) bool {
	switch mt {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex,
		"application/vnd.docker.distribution.manifest.v2+json",
		"application/vnd.docker.distribution.manifest.list.v2+json":
		return true
	}
	return false
}

func (s *Server) blob(w http.ResponseWriter, r *http.Request, repo *repository, ref string) {
	d, ok := parseDigest(w, r, ref)
	if !ok {
		return
	}
	desc, found := repo.content[d]
	if !found {
		writeError(w, r, http.StatusNotFound, codeBlobUnknown, fmt.Sprintf("no blob %s in %s", d, repo.name))
		return
	}
	desc = ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}
	h := w.Header()
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Accept-Ranges", "bytes")
	h.Set("ETag", `"`+d.String()+`"`)
	rg, partial, satisfiable := parseRange(r.Header.Get("Range"), desc.Size)
	if !satisfiable {
		h.Set("Content-Range", "bytes */"+strconv.FormatInt(desc.Size, 10))
		writeError(w, r, http.StatusRequestedRangeNotSatisfiable, codeSizeInvalid, fmt.Sprintf("range %.100q is outside blob %s of %d bytes", r.Header.Get("Range"), d, desc.Size))
		return
	}
	if r.Method == http.MethodHead {
		h.Set("Content-Length", strconv.FormatInt(desc.Size, 10))
		w.WriteHeader(http.StatusOK)
		return
	}
	ctx := r.Context()
	if partial {
		if err := s.verified.check(ctx, s.src, desc); err != nil {
			s.contentError(w, r, repo, desc, err)
			return
		}
	}
	rc, err := s.src.Fetch(ctx, desc)
	if err != nil {
		s.contentError(w, r, repo, desc, err)
		return
	}
	defer rc.Close()
	if partial {
		if err := skipTo(rc, rg.start); err != nil {
			s.contentError(w, r, repo, desc, err)
			return
		}
		n := rg.end - rg.start + 1
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rg.start, rg.end, desc.Size))
		h.Set("Content-Length", strconv.FormatInt(n, 10))
		w.WriteHeader(http.StatusPartialContent)
		bp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bp)
		if c, err := copyN(w, rc, n, *bp); err != nil && c < n {
			if ctx.Err() == nil {
				s.cfg.Log.failure(r, repo.name, s.idx.owner[d], desc, fmt.Errorf("%s: range of a verified blob: %w", s.where(ctx, d), err))
			}
			abort()
		}
		return
	}
	h.Set("Content-Length", strconv.FormatInt(desc.Size, 10))
	wrote, err := sendVerified(w, rc, desc, func() { w.WriteHeader(http.StatusOK) })
	if err == nil {
		s.verified.add(d)
		return
	}
	var bad errCorrupt
	if !errors.As(err, &bad) {
		abort() // the client went away
	}
	if !wrote {
		s.contentError(w, r, repo, desc, err)
		return
	}
	s.cfg.Log.failure(r, repo.name, s.idx.owner[d], desc, fmt.Errorf("%s: %w (response cut short)", s.where(ctx, d), err))
	abort()
}

// contentError answers for stored content that is absent or fails its
// check, and logs the failure with the file, image and digest, since the
// client's view of it ("500") says nothing of where to look.
func (s *Server) contentError(w http.ResponseWriter, r *http.Request, repo *repository, d ocispec.Descriptor, err error) {
	if errors.Is(err, layout.ErrNotFound) {
		code := codeBlobUnknown
		if isManifest(d.MediaType) && strings.Contains(r.URL.Path, "/manifests/") {
			code = codeManifestUnknown
		}
		writeError(w, r, http.StatusNotFound, code, fmt.Sprintf("%s is listed but not stored (a sparse layout)", d.Digest))
		return
	}
	if r.Context().Err() != nil {
		abort()
	}
	s.cfg.Log.failure(r, repo.name, s.idx.owner[d.Digest], d, fmt.Errorf("%s: %w", s.where(r.Context(), d.Digest), err))
	writeError(w, r, http.StatusInternalServerError, codeUnknown, fmt.Sprintf("stored content %s failed its check and is not served (see the server's log)", d.Digest))
}

// list answers _catalog and tags/list with the spec's n/last pagination:
// entries after last, at most n of them, and a Link header to the next
// page when more remain. n is never used to size anything.
func (s *Server) list(w http.ResponseWriter, r *http.Request, path, field, name string, all []string) {
	q := r.URL.Query()
	n := -1
	if v := q.Get("n"); v != "" {
		u, err := strconv.ParseUint(v, 10, 63)
		switch {
		case errors.Is(err, strconv.ErrRange):
			n = len(all)
		case err != nil:
			writeError(w, r, http.StatusBadRequest, codePaginationInvalid, fmt.Sprintf("n=%.40q is not a count", v))
			return
		case u > uint64(len(all)):
			n = len(all)
		default:
			n = int(u)
		}
	}
	rest := all
	if last := q.Get("last"); last != "" {
		i := 0
		for i < len(rest) && rest[i] <= last {
			i++
		}
		rest = rest[i:]
	}
	page := rest
	if n >= 0 && n < len(rest) {
		page = rest[:n]
		if n > 0 {
			w.Header().Set("Link", fmt.Sprintf(`<%s?n=%d&last=%s>; rel="next"`, path, n, page[n-1]))
		}
	}
	if page == nil {
		page = []string{}
	}
	body := map[string]any{field: page}
	if name != "" {
		body["name"] = name
	}
	writeJSON(w, r, "application/json", body)
}

func writeJSON(w http.ResponseWriter, r *http.Request, mt string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, codeUnknown, err.Error())
		return
	}
	w.Header().Set("Content-Type", mt)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

// referrers answers the referrers API: an image index of the manifests
// whose subject is the digest, filtered by artifactType if asked (and
// then saying so in OCI-Filters-Applied). An unknown subject has no
// referrers: an empty index, as the spec allows.
func (s *Server) referrers(w http.ResponseWriter, r *http.Request, repo *repository, ref string) {
	d, ok := parseDigest(w, r, ref)
	if !ok {
		return
	}
	want := r.URL.Query().Get("artifactType")
	out := []ocispec.Descriptor{}
	for _, rd := range repo.referrers[d] {
		if want == "" || rd.ArtifactType == want {
			out = append(out, rd)
		}
	}
	if want != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: out}
	idx.SchemaVersion = 2
	writeJSON(w, r, ocispec.MediaTypeImageIndex, idx)
}

// where names the file that holds d, for the log: the served path and the
// blob's place in it.
func (s *Server) where(ctx context.Context, d digest.Digest) string {
	if info, err := s.src.Info(ctx, d); err == nil && info.Path != "" {
		return s.cfg.Label + ": " + info.Path
	}
	return s.cfg.Label
}
