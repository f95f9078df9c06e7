package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ListenOptions say where and how the server listens.
type ListenOptions struct {
	Addr string
	// CertFile and KeyFile turn on TLS.
	CertFile, KeyFile string
	// Insecure allows plain HTTP on an address other than loopback.
	Insecure bool
	// ShutdownWait bounds how long requests in flight may take to finish
	// once ctx is done; zero is DefaultShutdownWait.
	ShutdownWait time.Duration
	// Ready, if set, is called with the bound address once listening.
	Ready func(addr string)
}

// DefaultShutdownWait lets a layer in flight finish on a LAN, without
// holding a stop hostage to a stalled client.
const DefaultShutdownWait = 30 * time.Second

// ErrInsecureListen refuses plain HTTP where others could reach it.
var ErrInsecureListen = errors.New("plain HTTP on an address other than loopback")

// Listen serves h until ctx is done, then stops taking connections, lets
// the requests in flight finish (for at most ShutdownWait) and returns nil.
func Listen(ctx context.Context, h http.Handler, log *Logger, o ListenOptions) error {
	if (o.CertFile == "") != (o.KeyFile == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	var tlsCfg *tls.Config
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return err
	}
	// Judged on the bound address, not the flag: a host name may resolve
	// to anything, and ":5000" is every interface.
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tlsCfg == nil && !o.Insecure && !tcp.IP.IsLoopback() {
		ln.Close()
		return fmt.Errorf("%w: %s; give --tls-cert and --tls-key, or --insecure-listen to serve without TLS anyway", ErrInsecureListen, ln.Addr())
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          nil,
	}
	scheme := "http"
	if tlsCfg != nil {
		srv.TLSConfig = tlsCfg
		ln = tls.NewListener(ln, tlsCfg)
		scheme = "https"
	}
	addr := ln.Addr().String()
	log.Info("listening", addr, scheme+"://"+addr)
	if o.Ready != nil {
		o.Ready(addr)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	wait := o.ShutdownWait
	if wait <= 0 {
		wait = DefaultShutdownWait
	}
	sctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err = srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
		log.Info("stopped", addr, fmt.Sprintf("requests still running after %s were cut", wait))
		return nil
	}
	log.Info("stopped", addr, "every request in flight finished")
	return nil
}
