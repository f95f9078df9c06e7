// Command wanlink is the shared link of the WAN bench (bench/wan.sh): a
// TCP proxy whose bandwidth is one budget for all its connections in each
// direction, plus a fixed one-way latency. It exists because toxiproxy
// caps each connection on its own, which models TCP windows and per-stream
// limits but not a real line, where a client that opens more connections
// only divides the same bytes per second among them.
//
// It prints the address it listens on, then serves until killed.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	to := flag.String("to", "", "upstream HOST:PORT")
	rate := flag.Float64("rate", 0, "bytes per second in each direction, shared by all connections (0: no limit)")
	up := flag.Float64("up-rate", -1, "bytes per second client to upstream (default: -rate)")
	down := flag.Float64("down-rate", -1, "bytes per second upstream to client (default: -rate)")
	delay := flag.Duration("delay", 0, "one-way latency, each direction")
	flag.Parse()
	if *to == "" {
		fmt.Fprintln(os.Stderr, "usage: wanlink -to HOST:PORT [-rate B/s] [-delay D]")
		os.Exit(2)
	}
	if *up < 0 {
		*up = *rate
	}
	if *down < 0 {
		*down = *rate
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wanlink:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	k := NewLink(*to, *up, *down, *delay)
	if err := k.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "wanlink:", err)
		os.Exit(1)
	}
}
