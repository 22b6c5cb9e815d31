package livebench

import (
	"context"
	"fmt"
	"os"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/web"
)

// server is auditd's web server with its live consumer, on a loopback port
// and a slot of its own, as `auditd serve` runs them.
type server struct {
	hub      *live.Hub
	consumer *live.Consumer
	web      *web.Server
	ledger   *scratchLedger // the witness ledger, when the run has one
	slot     string
	addr     string // host:port
	db       *database
}

// startServer starts the consumer and the web server; withLedger, the
// consumer writes a witness ledger (in a scratch database) as serve's does.
func (b *bench) startServer(ctx context.Context, withLedger bool) (*server, error) {
	s := &server{slot: fmt.Sprintf("bench_live_%d", os.Getpid()), db: b.db}
	s.hub = live.NewHub(live.HubConfig{})
	var witness *ledger.Writer
	if withLedger {
		s.slot += "_ledger"
		l, err := b.db.newScratchLedger(ctx, "live")
		if err != nil {
			return nil, err
		}
		s.ledger, witness = l, l.writer
	}
	s.consumer = live.NewConsumer(live.ConsumerConfig{ConnString: b.db.url, Slot: s.slot, Publication: b.Publication, Ledger: witness, Logger: b.logger}, b.db.pool, s.hub, nil)
	if err := s.consumer.Start(ctx); err != nil {
		if s.ledger != nil {
			s.ledger.Close()
		}
		return nil, err
	}
	s.web = web.New(web.Config{Listen: "127.0.0.1:0", AuthOff: true /* measures the feed, not sign-in; loopback only */}, web.Deps{Pool: b.db.pool, Store: eventstore.New(b.db.pool), Logger: b.logger, LiveHub: s.hub, LiveConsumer: s.consumer, LiveLinger: b.Linger})
	if err := s.web.Start(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	s.addr = s.web.Addr().String()
	return s, nil
}

// Stop ends every subscription, stops the server and the consumer, and
// drops the slot.
func (s *server) Stop() {
	s.hub.Close()
	s.web.Stop()
	s.consumer.Stop()
	s.db.dropSlot(s.slot)
	if s.ledger != nil {
		s.ledger.Close()
	}
}
