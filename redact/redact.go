// Package redact removes secrets from URLs and proxy addresses before they are
// written to a log line, an error or a result. It is the one place that does so.
package redact
