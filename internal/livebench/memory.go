package livebench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// idleMemory opens idle SSE connections and reports the process's resident
// memory growth. The clients are raw sockets in this same process, so the
// figure is the server's cost plus a few hundred bytes per client socket.
func (b *bench) idleMemory(ctx context.Context, addr string) ([]row, error) {
	before := rss()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var d net.Dialer
	for range b.Idle {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("bench live: idle subscriber: %w", err)
		}
		conns = append(conns, c)
		if err := awaitSubscribed(c); err != nil {
			return nil, fmt.Errorf("bench live: idle subscriber: %w", err)
		}
	}
	delta := rss() - before
	return []row{
		{"memory: idle SSE subscribers", strconv.Itoa(b.Idle), ""},
		{"memory: resident set growth", fmt.Sprintf("%.1f MB (%.1f KB per subscriber)", float64(delta)/(1<<20), float64(delta)/1024/float64(max(b.Idle, 1))), "< 100 MB per 1,000"},
	}, nil
}

// awaitSubscribed requests the feed on c and reads until the subscription
// comment, so every idle subscriber is in place before memory is measured.
func awaitSubscribed(c net.Conn) error {
	if _, err := io.WriteString(c, "GET /live/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	var got []byte
	for !bytes.Contains(got, []byte(": subscribed")) {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		got = append(got, buf[:n]...)
	}
	return nil
}

// rss is the process's resident set size in bytes (Linux), after returning
// freed memory to the system so garbage does not count.
func rss() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	f, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(f)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
