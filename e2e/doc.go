// Package e2e holds end-to-end tests that run the hookworker command
// in-process against a real NATS JetStream server and a real HTTP receiver,
// and observe it only from outside: its HTTP endpoints, its published results
// and its exit status.
package e2e
