package demo

import _ "embed"

// ReducersJSON is the timetravel configuration of the demo world: reducer
// rules for Wallet, Order and FeeRun streams and the OrderPlaced v1 → v2
// upcaster. Before the multi-currency release (schema_version 1) the shop
// only sold in EUR, which is why the upcaster defaults the currency to EUR.
//
//go:embed reducers.json
var ReducersJSON []byte
