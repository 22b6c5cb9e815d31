package demo

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Money is an amount in cents. It marshals as a JSON number with exactly two
// decimals (125.50, not 125.5) because that is how payment systems write
// amounts, and support staff compare them digit by digit.
type Money int64

// MarshalJSON writes m as a JSON number with two decimals.
func (m Money) MarshalJSON() ([]byte, error) { return m.AppendText(nil) }

// AppendText appends m as "125.50".
func (m Money) AppendText(b []byte) ([]byte, error) {
	v := int64(m)
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/100, 10)
	b = append(b, '.', byte('0'+v%100/10), byte('0'+v%10))
	return b, nil
}

// String formats m like MarshalJSON.
func (m Money) String() string {
	b, _ := m.AppendText(nil)
	return string(b)
}

// Stream types of the demo world.
const (
	StreamWallet = "Wallet"
	StreamOrder  = "Order"
	StreamFeeRun = "FeeRun"
)

// Event types of the demo world.
const (
	EventWalletOpened     = "WalletOpened"
	EventMoneyDeposited   = "MoneyDeposited"
	EventMoneyWithdrawn   = "MoneyWithdrawn"
	EventTransferSent     = "TransferSent"
	EventTransferReceived = "TransferReceived"
	EventWalletFrozen     = "WalletFrozen"
	EventWalletUnfrozen   = "WalletUnfrozen"
	EventDisputeOpened    = "DisputeOpened"
	EventDisputeResolved  = "DisputeResolved"

	EventOrderPlaced    = "OrderPlaced"
	EventPaymentTaken   = "PaymentTaken"
	EventOrderShipped   = "OrderShipped"
	EventOrderCancelled = "OrderCancelled"
	EventRefundIssued   = "RefundIssued"

	EventFeeRunStarted   = "FeeRunStarted"
	EventFeeRunCompleted = "FeeRunCompleted"
)

// EventTypes lists every event type the demo world produces, by stream type.
var EventTypes = map[string][]string{
	StreamWallet: {EventWalletOpened, EventMoneyDeposited, EventMoneyWithdrawn, EventTransferSent, EventTransferReceived,
		EventWalletFrozen, EventWalletUnfrozen, EventDisputeOpened, EventDisputeResolved},
	StreamOrder:  {EventOrderPlaced, EventPaymentTaken, EventOrderShipped, EventOrderCancelled, EventRefundIssued},
	StreamFeeRun: {EventFeeRunStarted, EventFeeRunCompleted},
}

// Payloads. Field order is the JSON order.

type walletOpened struct {
	Owner    string `json:"owner"`
	Currency string `json:"currency"`
}

type moneyDeposited struct {
	Amount Money  `json:"amount"`
	Source string `json:"source"`
}

type moneyWithdrawn struct {
	Amount Money  `json:"amount"`
	Reason string `json:"reason"`
}

type transferSent struct {
	Amount     Money  `json:"amount"`
	ToWallet   string `json:"to_wallet"`
	TransferID string `json:"transfer_id"`
}

type transferReceived struct {
	Amount     Money  `json:"amount"`
	FromWallet string `json:"from_wallet"`
	TransferID string `json:"transfer_id"`
}

type walletFrozen struct {
	Reason string `json:"reason"`
}

type walletUnfrozen struct{}

type disputeOpened struct {
	DisputeID string `json:"dispute_id"`
	Amount    Money  `json:"amount"`
	Reason    string `json:"reason"`
}

type disputeResolved struct {
	DisputeID string `json:"dispute_id"`
	Outcome   string `json:"outcome"`
	Refunded  Money  `json:"refunded"`
}

type orderLine struct {
	SKU   string `json:"sku"`
	Qty   int    `json:"qty"`
	Price Money  `json:"price"`
}

// orderPlacedV1 is the shape written before the multi-currency release:
// one implicit currency (EUR), flat total.
type orderPlacedV1 struct {
	Customer string      `json:"customer"`
	Total    Money       `json:"total"`
	Items    []orderLine `json:"items"`
}

type moneyAmount struct {
	Value    Money  `json:"value"`
	Currency string `json:"currency"`
}

// orderPlacedV2 is the shape since the multi-currency release.
type orderPlacedV2 struct {
	CustomerID string      `json:"customer_id"`
	Amount     moneyAmount `json:"amount"`
	Lines      []orderLine `json:"lines"`
}

type paymentTaken struct {
	Amount   Money  `json:"amount"`
	WalletID string `json:"wallet_id"`
}

type orderShipped struct {
	Carrier  string `json:"carrier"`
	Tracking string `json:"tracking"`
}

type orderCancelled struct {
	Reason string `json:"reason"`
}

type refundIssued struct {
	Amount Money `json:"amount"`
}

type feeRunStarted struct {
	RunDate  string `json:"run_date"`
	Schedule string `json:"schedule"`
}

type feeRunCompleted struct {
	Charged int `json:"charged"`
	Skipped int `json:"skipped"`
}

// metadata is the metadata object of every demo event.
type metadata struct {
	CorrelationID string `json:"correlation_id"`
	CausationID   string `json:"causation_id,omitempty"`
	Actor         string `json:"actor"`
	Source        string `json:"source"`
}

// Vocabulary. Small fixed lists keep the world recognisable: the same agents
// and jobs show up again and again, as in a real support team.
var (
	firstNames = []string{"ana", "ben", "chloe", "david", "elena", "farid", "grace", "hugo", "ines", "jonas",
		"kofi", "lena", "marco", "nadia", "oscar", "priya", "quentin", "rosa", "samir", "tara", "umar", "vera",
		"wei", "ximena", "yusuf", "zoe", "aiko", "bruno", "carmen", "dmitri", "emma", "felix", "gita", "hamza",
		"ivan", "julia", "kenji", "laila", "mateo", "nora", "omar", "paula", "rafael", "sofia", "tomas", "ugo"}
	lastNames = []string{"lopez", "smith", "nguyen", "muller", "rossi", "kowalski", "okafor", "dubois", "silva",
		"jensen", "haddad", "tanaka", "novak", "garcia", "ivanova", "mensah", "oconnor", "petrov", "santos",
		"schmidt", "yilmaz", "kim", "chen", "moreau", "bauer", "costa", "fischer", "herrera", "nakamura", "owusu"}
	agents = []string{"agent:m.okafor", "agent:s.novak", "agent:j.tanaka", "agent:p.silva", "agent:r.haddad"}

	depositSources   = []string{"card", "card", "bank_transfer", "salary", "cash_in"}
	withdrawReasons  = []string{"atm", "card payment", "card payment", "bill payment", "cash out"}
	freezeReasons    = []string{"suspicious login from a new device", "KYC document expired", "chargeback investigation", "customer reported lost phone"}
	disputeReasons   = []string{"I did not make this payment", "charged twice", "merchant never delivered", "amount differs from receipt"}
	cancelReasons    = []string{"customer changed their mind", "ordered by mistake", "found a better price", "delivery too slow"}
	carriers         = []string{"DHL", "UPS", "PostNL", "La Poste", "Royal Mail"}
	appSources       = []string{"mobile-app", "mobile-app", "web"}
	walletCurrencies = []string{"EUR", "EUR", "EUR", "EUR", "EUR", "EUR", "EUR", "GBP", "GBP", "USD"}
)

// catalog is what the shop sells; prices in cents.
var catalog = []struct {
	sku   string
	price Money
}{
	{"SKU-HEADPHONES-BT", 7990}, {"SKU-USB-C-CABLE", 1250}, {"SKU-COFFEE-BEANS-1KG", 2450},
	{"SKU-RUNNING-SHOES", 11900}, {"SKU-DESK-LAMP", 3475}, {"SKU-BACKPACK-20L", 5900},
	{"SKU-PHONE-CASE", 1999}, {"SKU-YOGA-MAT", 2890}, {"SKU-WATER-BOTTLE", 1550},
	{"SKU-KEYBOARD-MECH", 12950}, {"SKU-NOTEBOOK-A5", 650}, {"SKU-TEA-SAMPLER", 1825},
	{"SKU-SMARTWATCH", 24900}, {"SKU-BOARD-GAME", 3999}, {"SKU-SUNGLASSES", 8900},
}

// jsonDecimal decodes a JSON number with up to two decimals into cents
// without going through float64.
type jsonDecimal int64

func (d *jsonDecimal) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	units, frac, _ := strings.Cut(s, ".")
	frac = (frac + "00")[:2]
	u, err := strconv.ParseInt(units, 10, 64)
	if err != nil {
		return fmt.Errorf("demo: amount %s is not a decimal: %w", b, err)
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return fmt.Errorf("demo: amount %s is not a decimal: %w", b, err)
	}
	v := u*100 + f
	if neg {
		v = -v
	}
	*d = jsonDecimal(v)
	return nil
}

func unmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
