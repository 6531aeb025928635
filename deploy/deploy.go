// Package deploy holds the production configuration of the services that run next to neuronova-server: Redis
// (redis/redis.conf). The README's "Central server" section installs these files; the test harness
// (internal/testsvc) runs the same files, embedded here.
package deploy

import _ "embed"

// RedisConf is redis/redis.conf.
//
//go:embed redis/redis.conf
var RedisConf string
