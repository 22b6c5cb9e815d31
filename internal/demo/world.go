package demo

import (
	"container/heap"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

// The world is a discrete-event simulation: every task emits at most one
// event at exactly its own time and may schedule follow-ups later. Running
// tasks in time order therefore emits events sorted by recorded_at, and
// stream versions (assigned at emission) follow positions.

type task struct {
	at    time.Time
	seq   uint64 // tie-break, so equal times keep scheduling order (determinism)
	story bool   // part of the dispute story: never dropped
	run   func(at time.Time)
}

type taskHeap []*task

func (h taskHeap) Len() int { return len(h) }
func (h taskHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h taskHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *taskHeap) Push(x any)   { *h = append(*h, x.(*task)) }
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

type wallet struct {
	id       string
	owner    string // customer handle, "ana.lopez"
	currency string
	// balance is what may still be spent: the folded balance minus money
	// already promised to a pending event (a payment whose MoneyWithdrawn is
	// scheduled). Checking it keeps the folded history non-negative.
	balance      Money
	frozen       bool
	openDisputes int
	feeDay       int // day of month the monthly fee is charged
	lastDebit    Money
	lastDebitID  string
}

func (w *wallet) actor() string { return "customer:" + w.owner }

type order struct {
	id        string
	w         *wallet
	amount    Money
	status    string
	corr      string
	placedID  string
	paymentID string
}

// evt is one event to emit.
type evt struct {
	at            time.Time
	streamID      string
	streamType    string
	eventType     string
	schemaVersion int
	payload       any
	md            metadata
	id            string // fixed id (the story); empty: derived from the RNG
	// guard re-checks the action's precondition after a live version
	// conflict reloaded the stream; nil means always valid.
	guard func() bool
}

// liveAppender writes one event to the database (the live Generator). It
// returns the error of the final attempt.
type liveAppender func(e evt, id string, payload, md []byte) error

type world struct {
	rng   *rand.Rand
	tasks taskHeap
	seq   uint64

	day0, end, v2From time.Time
	scale             float64 // follow-up delays are divided by it (live mode compresses days to minutes)

	target     int // events to emit
	emitted    int
	storyLeft  int // story events not yet emitted: reserved out of target
	spontCount int
	out        []eventstore.Event
	versions   map[string]int
	live       liveAppender

	wallets      []*wallet
	byID         map[string]*wallet
	walletTarget int
	walletIDFmt  func(n int) string
	orderIDFmt   func(n int) string
	usedHandles  map[string]bool
	orderSeq     int
	disputeSeq   int
	storyWallet  *wallet
}

func newWorld(seed uint64) *world {
	return &world{
		rng:         rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		scale:       1,
		versions:    map[string]int{},
		byID:        map[string]*wallet{},
		usedHandles: map[string]bool{DisputeOwner: true},
		disputeSeq:  1,
		walletIDFmt: func(n int) string { return fmt.Sprintf("wallet-%05d", n) },
		orderIDFmt:  func(n int) string { return fmt.Sprintf("order-%06d", n) },
	}
}

func (w *world) schedule(at time.Time, story bool, run func(time.Time)) {
	w.seq++
	heap.Push(&w.tasks, &task{at: at, seq: w.seq, story: story, run: run})
}

// after returns at + d, compressed by the world's time scale.
func (w *world) after(at time.Time, d time.Duration) time.Time {
	return at.Add(time.Duration(float64(d) / w.scale))
}

// between returns a random duration in [lo, hi).
func (w *world) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(w.rng.Int64N(int64(hi-lo)))
}

// cents returns a random amount in [lo, hi) euros with cents.
func (w *world) cents(lo, hi int) Money {
	return Money(lo*100 + w.rng.IntN((hi-lo)*100))
}

func (w *world) pick(s []string) string { return s[w.rng.IntN(len(s))] }

// newID derives a version 4 UUID from the RNG, so the same seed gives the
// same event ids.
func (w *world) newID() string {
	var b [16]byte
	hi, lo := w.rng.Uint64(), w.rng.Uint64()
	for i := range 8 {
		b[i] = byte(hi >> (56 - 8*i))
		b[8+i] = byte(lo >> (56 - 8*i))
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:16])
	return string(s[:])
}

// shortID is a short random hex token for business ids (transfers, tracking).
func (w *world) shortID(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[w.rng.IntN(16)]
	}
	return string(b)
}

// emit writes one event and returns its id. In batch mode it cannot fail;
// in live mode it fails when the database refused it, and the caller then
// leaves its in-memory state untouched.
func (w *world) emit(e evt) (string, error) {
	id := e.id
	if id == "" {
		id = w.newID()
	}
	payload, err := json.Marshal(e.payload)
	if err != nil {
		return "", fmt.Errorf("demo: unable to encode %s payload: %w", e.eventType, err)
	}
	md, err := json.Marshal(e.md)
	if err != nil {
		return "", fmt.Errorf("demo: unable to encode metadata: %w", err)
	}
	if w.live != nil {
		if err := w.live(e, id, payload, md); err != nil {
			return "", err
		}
		w.emitted++
		return id, nil
	}
	v := w.versions[e.streamID] + 1
	w.versions[e.streamID] = v
	w.out = append(w.out, eventstore.Event{
		EventID:       id,
		StreamID:      e.streamID,
		StreamType:    e.streamType,
		Version:       v,
		EventType:     e.eventType,
		SchemaVersion: max(e.schemaVersion, 1),
		Payload:       payload,
		Metadata:      md,
		RecordedAt:    e.at.Truncate(time.Microsecond), // what timestamptz keeps
	})
	w.emitted++
	return id, nil
}

// walletEvt is an event on a wallet stream.
func walletEvt(at time.Time, wl *wallet, typ string, payload any, md metadata) evt {
	return evt{at: at, streamID: wl.id, streamType: StreamWallet, eventType: typ, payload: payload, md: md}
}

// pickWallet returns a random wallet satisfying ok, or nil. Low indexes are
// picked more often: early customers are the regulars.
func (w *world) pickWallet(ok func(*wallet) bool) *wallet {
	n := len(w.wallets)
	if n == 0 {
		return nil
	}
	for range 6 {
		u := w.rng.Float64()
		wl := w.wallets[int(float64(n)*u*u)]
		if ok(wl) {
			return wl
		}
	}
	return nil
}

func (w *world) handle() string {
	base := w.pick(firstNames) + "." + w.pick(lastNames)
	h := base
	for i := 2; w.usedHandles[h]; i++ {
		h = fmt.Sprintf("%s%d", base, i)
	}
	w.usedHandles[h] = true
	return h
}

// spontaneous performs one customer-initiated action at `at`.
func (w *world) spontaneous(at time.Time) {
	w.spontCount++
	open := 0.0
	if len(w.wallets) < 4 {
		open = 1
	} else if len(w.wallets) < w.walletTarget {
		open = 0.3 * float64(w.walletTarget-len(w.wallets)) / float64(w.walletTarget)
	}
	r := w.rng.Float64()
	if r < open {
		w.openWallet(at)
		return
	}
	r = w.rng.Float64()
	switch {
	case r < 0.28:
		w.deposit(at)
	case r < 0.43:
		w.withdraw(at)
	case r < 0.60:
		w.transfer(at)
	case r < 0.985:
		w.placeOrder(at)
	case r < 0.992:
		w.freeze(at)
	default:
		w.openDispute(at)
	}
}

func (w *world) openWallet(at time.Time) {
	wl := &wallet{
		id:       w.walletIDFmt(len(w.wallets) + 1),
		owner:    w.handle(),
		currency: w.pick(walletCurrencies),
		feeDay:   at.Day(),
	}
	corr := w.newID()
	id, err := w.emit(walletEvt(at, wl, EventWalletOpened, walletOpened{Owner: wl.owner, Currency: wl.currency},
		metadata{CorrelationID: corr, Actor: wl.actor(), Source: w.pick(appSources)}))
	if err != nil {
		return
	}
	w.wallets = append(w.wallets, wl)
	w.byID[wl.id] = wl
	// Nobody opens a wallet to leave it empty: the first top-up follows.
	amount := w.cents(50, 800)
	w.schedule(w.after(at, w.between(time.Minute, 90*time.Minute)), false, func(at time.Time) {
		if _, err := w.emit(walletEvt(at, wl, EventMoneyDeposited, moneyDeposited{Amount: amount, Source: "card"},
			metadata{CorrelationID: corr, CausationID: id, Actor: wl.actor(), Source: "mobile-app"})); err == nil {
			wl.balance += amount
		}
	})
}

func (w *world) deposit(at time.Time) {
	wl := w.pickWallet(func(*wallet) bool { return true })
	if wl == nil {
		return
	}
	src := w.pick(depositSources)
	md := metadata{CorrelationID: w.newID(), Actor: wl.actor(), Source: w.pick(appSources)}
	var amount Money
	switch src {
	case "salary":
		amount = Money(w.rng.IntN(18)*10000 + 180000)
		md.Actor, md.Source = "job:bank-sync", "payments-api"
	case "bank_transfer":
		amount = w.cents(50, 1000)
		md.Actor, md.Source = "job:bank-sync", "payments-api"
	case "cash_in":
		amount = Money(w.rng.IntN(19)*1000 + 2000)
		md.Source = "mobile-app"
	default:
		amount = w.cents(20, 500)
	}
	if _, err := w.emit(walletEvt(at, wl, EventMoneyDeposited, moneyDeposited{Amount: amount, Source: src}, md)); err == nil {
		wl.balance += amount
	}
}

func (w *world) withdraw(at time.Time) {
	wl := w.pickWallet(func(wl *wallet) bool { return !wl.frozen && wl.balance >= 500 })
	if wl == nil {
		return
	}
	amount := min(w.cents(5, 250), wl.balance)
	reason := w.pick(withdrawReasons)
	if reason == "atm" || reason == "cash out" {
		amount = max(amount/1000*1000, 500) // cash comes in round amounts
	}
	e := walletEvt(at, wl, EventMoneyWithdrawn, moneyWithdrawn{Amount: amount, Reason: reason},
		metadata{CorrelationID: w.newID(), Actor: wl.actor(), Source: w.pick(appSources)})
	e.guard = func() bool { return !wl.frozen && wl.balance >= amount }
	if id, err := w.emit(e); err == nil {
		wl.balance -= amount
		wl.lastDebit, wl.lastDebitID = amount, id
	}
}

func (w *world) transfer(at time.Time) {
	from := w.pickWallet(func(wl *wallet) bool { return !wl.frozen && wl.balance >= 1000 })
	if from == nil {
		return
	}
	to := w.pickWallet(func(wl *wallet) bool { return wl != from && wl.currency == from.currency })
	if to == nil {
		return
	}
	amount := min(w.cents(5, 400), from.balance)
	if w.rng.IntN(3) == 0 {
		amount = max(amount/1000*1000, 500) // friends split bills in round numbers
	}
	transferID := "tr-" + w.shortID(12)
	corr := w.newID()
	e := walletEvt(at, from, EventTransferSent, transferSent{Amount: amount, ToWallet: to.id, TransferID: transferID},
		metadata{CorrelationID: corr, Actor: from.actor(), Source: w.pick(appSources)})
	e.guard = func() bool { return !from.frozen && from.balance >= amount }
	sentID, err := w.emit(e)
	if err != nil {
		return
	}
	from.balance -= amount
	from.lastDebit, from.lastDebitID = amount, sentID
	w.schedule(w.after(at, w.between(80*time.Millisecond, 900*time.Millisecond)), false, func(at time.Time) {
		if _, err := w.emit(walletEvt(at, to, EventTransferReceived, transferReceived{Amount: amount, FromWallet: from.id, TransferID: transferID},
			metadata{CorrelationID: corr, CausationID: sentID, Actor: from.actor(), Source: "payments-api"})); err == nil {
			to.balance += amount
		}
	})
}

func (w *world) freeze(at time.Time) {
	wl := w.pickWallet(func(wl *wallet) bool { return !wl.frozen })
	if wl == nil {
		return
	}
	agent := w.pick(agents)
	corr := w.newID()
	id, err := w.emit(walletEvt(at, wl, EventWalletFrozen, walletFrozen{Reason: w.pick(freezeReasons)},
		metadata{CorrelationID: corr, Actor: agent, Source: "support-console"}))
	if err != nil {
		return
	}
	wl.frozen = true
	w.schedule(w.after(at, w.between(2*time.Hour, 96*time.Hour)), false, func(at time.Time) {
		if _, err := w.emit(walletEvt(at, wl, EventWalletUnfrozen, walletUnfrozen{},
			metadata{CorrelationID: corr, CausationID: id, Actor: agent, Source: "support-console"})); err == nil {
			wl.frozen = false
		}
	})
}

func (w *world) openDispute(at time.Time) {
	wl := w.pickWallet(func(wl *wallet) bool { return wl.lastDebit > 0 && wl.openDisputes == 0 })
	if wl == nil {
		return
	}
	w.disputeSeq++
	disputeID := fmt.Sprintf("dispute-%04d", w.disputeSeq)
	amount, cause := wl.lastDebit, wl.lastDebitID
	corr := w.newID()
	openedID, err := w.emit(walletEvt(at, wl, EventDisputeOpened, disputeOpened{DisputeID: disputeID, Amount: amount, Reason: w.pick(disputeReasons)},
		metadata{CorrelationID: corr, CausationID: cause, Actor: wl.actor(), Source: w.pick(appSources)}))
	if err != nil {
		return
	}
	wl.openDisputes++
	agent := w.pick(agents)
	refund := w.rng.IntN(100) < 55
	w.schedule(w.after(at, w.between(2*time.Hour, 72*time.Hour)), false, func(at time.Time) {
		outcome, refunded := "rejected", Money(0)
		if refund {
			outcome, refunded = "refunded", amount
		}
		resolvedID, err := w.emit(walletEvt(at, wl, EventDisputeResolved, disputeResolved{DisputeID: disputeID, Outcome: outcome, Refunded: refunded},
			metadata{CorrelationID: corr, CausationID: openedID, Actor: agent, Source: "support-console"}))
		if err != nil {
			return
		}
		wl.openDisputes--
		if refund {
			w.schedule(w.after(at, w.between(time.Second, 5*time.Second)), false, func(at time.Time) {
				if _, err := w.emit(walletEvt(at, wl, EventMoneyDeposited, moneyDeposited{Amount: amount, Source: "refund"},
					metadata{CorrelationID: corr, CausationID: resolvedID, Actor: agent, Source: "support-console"})); err == nil {
					wl.balance += amount
				}
			})
		}
	})
}

func orderEvt(at time.Time, o *order, typ string, payload any, md metadata) evt {
	return evt{at: at, streamID: o.id, streamType: StreamOrder, eventType: typ, payload: payload, md: md}
}

func (w *world) placeOrder(at time.Time) {
	v1 := at.Before(w.v2From)
	wl := w.pickWallet(func(wl *wallet) bool {
		// Before the multi-currency release the shop only sold in EUR.
		return !wl.frozen && wl.balance >= 500 && (!v1 || wl.currency == "EUR")
	})
	if wl == nil {
		return
	}
	lines := make([]orderLine, 1+w.rng.IntN(3))
	var total Money
	for i := range lines {
		c := catalog[w.rng.IntN(len(catalog))]
		lines[i] = orderLine{SKU: c.sku, Qty: 1 + w.rng.IntN(4)/3, Price: c.price}
		total += c.price * Money(lines[i].Qty)
	}
	// Most customers look at their balance first; a few get declined.
	if total > wl.balance && w.rng.IntN(10) > 0 {
		lines = lines[:1]
		lines[0].Qty = 1
		total = lines[0].Price
	}
	w.orderSeq++
	o := &order{id: w.orderIDFmt(w.orderSeq), w: wl, amount: total, status: "placed", corr: w.newID()}
	e := orderEvt(at, o, EventOrderPlaced, nil, metadata{CorrelationID: o.corr, Actor: wl.actor(), Source: w.pick(appSources)})
	if v1 {
		e.schemaVersion, e.payload = 1, orderPlacedV1{Customer: wl.owner, Total: total, Items: lines}
	} else {
		e.schemaVersion, e.payload = 2, orderPlacedV2{CustomerID: wl.owner, Amount: moneyAmount{Value: total, Currency: wl.currency}, Lines: lines}
	}
	id, err := w.emit(e)
	if err != nil {
		return
	}
	o.placedID = id
	w.schedule(w.after(at, w.between(2*time.Second, 6*time.Second)), false, func(at time.Time) { w.takePayment(at, o) })
}

func (w *world) takePayment(at time.Time, o *order) {
	wl := o.w
	if wl.frozen || wl.balance < o.amount {
		reason := "payment declined: insufficient funds"
		if wl.frozen {
			reason = "payment declined: wallet frozen"
		}
		if _, err := w.emit(orderEvt(at, o, EventOrderCancelled, orderCancelled{Reason: reason},
			metadata{CorrelationID: o.corr, CausationID: o.placedID, Actor: wl.actor(), Source: "payments-api"})); err == nil {
			o.status = "cancelled"
		}
		return
	}
	id, err := w.emit(orderEvt(at, o, EventPaymentTaken, paymentTaken{Amount: o.amount, WalletID: wl.id},
		metadata{CorrelationID: o.corr, CausationID: o.placedID, Actor: wl.actor(), Source: "payments-api"}))
	if err != nil {
		return
	}
	o.status, o.paymentID = "paid", id
	// Reserve now: the wallet's MoneyWithdrawn follows a moment later.
	wl.balance -= o.amount
	w.schedule(w.after(at, w.between(150*time.Millisecond, 600*time.Millisecond)), false, func(at time.Time) {
		debitID, err := w.emit(walletEvt(at, wl, EventMoneyWithdrawn, moneyWithdrawn{Amount: o.amount, Reason: "payment for " + o.id},
			metadata{CorrelationID: o.corr, CausationID: id, Actor: wl.actor(), Source: "payments-api"}))
		if err != nil {
			wl.balance += o.amount // live mode: the debit never happened
			return
		}
		wl.lastDebit, wl.lastDebitID = o.amount, debitID
	})
	if w.rng.IntN(100) < 7 {
		w.schedule(w.after(at, w.between(time.Hour, 20*time.Hour)), false, func(at time.Time) { w.cancelOrder(at, o) })
		return
	}
	w.schedule(w.after(at, w.between(8*time.Hour, 72*time.Hour)), false, func(at time.Time) { w.shipOrder(at, o) })
}

func (w *world) cancelOrder(at time.Time, o *order) {
	if o.status != "paid" {
		return
	}
	id, err := w.emit(orderEvt(at, o, EventOrderCancelled, orderCancelled{Reason: w.pick(cancelReasons)},
		metadata{CorrelationID: o.corr, CausationID: o.paymentID, Actor: o.w.actor(), Source: w.pick(appSources)}))
	if err != nil {
		return
	}
	o.status = "cancelled"
	w.schedule(w.after(at, w.between(time.Second, 4*time.Second)), false, func(at time.Time) {
		w.refund(at, o, o.amount, id, "job:refunds", "payments-api")
	})
}

func (w *world) shipOrder(at time.Time, o *order) {
	if o.status != "paid" {
		return
	}
	carrier := w.pick(carriers)
	id, err := w.emit(orderEvt(at, o, EventOrderShipped, orderShipped{Carrier: carrier, Tracking: fmt.Sprintf("%s%s", carrier[:2], w.shortID(10))},
		metadata{CorrelationID: o.corr, CausationID: o.paymentID, Actor: "job:warehouse-dispatch", Source: "warehouse-api"}))
	if err != nil {
		return
	}
	o.status = "shipped"
	if w.rng.IntN(100) < 5 {
		// A damaged parcel: support refunds it days later.
		amount := o.amount
		if w.rng.IntN(2) == 0 {
			amount = max(amount/2, 100)
		}
		agent := w.pick(agents)
		w.schedule(w.after(at, w.between(48*time.Hour, 240*time.Hour)), false, func(at time.Time) {
			w.refund(at, o, amount, id, agent, "support-console")
		})
	}
}

// refund issues RefundIssued on the order and credits the wallet after it.
func (w *world) refund(at time.Time, o *order, amount Money, cause, actor, source string) {
	id, err := w.emit(orderEvt(at, o, EventRefundIssued, refundIssued{Amount: amount},
		metadata{CorrelationID: o.corr, CausationID: cause, Actor: actor, Source: source}))
	if err != nil {
		return
	}
	o.status = "refunded"
	wl := o.w
	w.schedule(w.after(at, w.between(200*time.Millisecond, 2*time.Second)), false, func(at time.Time) {
		if _, err := w.emit(walletEvt(at, wl, EventMoneyDeposited, moneyDeposited{Amount: amount, Source: "refund"},
			metadata{CorrelationID: o.corr, CausationID: id, Actor: actor, Source: "payments-api"})); err == nil {
			wl.balance += amount
		}
	})
}

// Nightly fee runs: at 02:00 UTC the job charges the monthly fee to every
// wallet opened on this day of the month.

const monthlyFee = Money(150)

type feeRun struct {
	streamID, corr, startedID string
	charged, skipped          int
}

func feeRunStreamID(day time.Time) string { return "feerun-" + day.Format("2006-01-02") }

func (w *world) scheduleFeeRun(at time.Time) {
	w.schedule(at, false, func(at time.Time) {
		run := &feeRun{streamID: feeRunStreamID(at), corr: w.newID()}
		id, err := w.emit(evt{at: at, streamID: run.streamID, streamType: StreamFeeRun, eventType: EventFeeRunStarted,
			payload: feeRunStarted{RunDate: at.Format("2006-01-02"), Schedule: "standard-2025"},
			md:      metadata{CorrelationID: run.corr, Actor: "job:nightly-fees", Source: "batch:nightly-fees"}})
		if err != nil {
			return
		}
		run.startedID = id
		done := w.chargeFees(at, run)
		w.schedule(done, false, func(at time.Time) { w.completeFeeRun(at, run, "") })
	})
}

// chargeFees schedules the run's charges and returns when the run completes.
func (w *world) chargeFees(at time.Time, run *feeRun) time.Time {
	t := at
	for _, wl := range w.wallets {
		if wl.feeDay != at.Day() {
			continue
		}
		t = t.Add(40 * time.Millisecond)
		w.schedule(t, false, func(at time.Time) {
			if wl.frozen || wl.balance < monthlyFee {
				run.skipped++
				return
			}
			if id, err := w.emit(walletEvt(at, wl, EventMoneyWithdrawn, moneyWithdrawn{Amount: monthlyFee, Reason: "monthly fee"},
				metadata{CorrelationID: run.corr, CausationID: run.startedID, Actor: "job:nightly-fees", Source: "batch:nightly-fees"})); err == nil {
				wl.balance -= monthlyFee
				wl.lastDebit, wl.lastDebitID = monthlyFee, id
				run.charged++
			}
		})
	}
	return t.Add(time.Second)
}

func (w *world) completeFeeRun(at time.Time, run *feeRun, fixedID string) {
	_, _ = w.emit(evt{at: at, streamID: run.streamID, streamType: StreamFeeRun, eventType: EventFeeRunCompleted, id: fixedID,
		payload: feeRunCompleted{Charged: run.charged, Skipped: run.skipped},
		md:      metadata{CorrelationID: run.corr, CausationID: run.startedID, Actor: "job:nightly-fees", Source: "batch:nightly-fees"}})
}
