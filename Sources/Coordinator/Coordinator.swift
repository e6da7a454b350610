// Module Coordinator: the sweep's coordinator. `Scheduler` (Scheduler*.swift) is the pure state
// machine; the ROUTER event loop that feeds it events and performs its effects lives beside it.
