// Package storetest reads a Store for the tests of the packages that use one
// (actors, httpfront): the whole page under a key, copied, which no part of
// prerenderd needs outside tests. It is for tests only; no part of prerenderd
// imports it. It uses the Store's own API, never Pebble.
package storetest
