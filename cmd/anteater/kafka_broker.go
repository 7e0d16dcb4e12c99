package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/anteater-dev/anteater/internal/event"
	"github.com/anteater-dev/anteater/internal/kafka"
)

func init() {
	register(subcommand{
		name: "kafka-broker",
		help: "Run an in-memory single-node Kafka broker (franz-go kfake) on loopback for the demo and tests, until interrupted.",
		setup: func(cmd *kingpin.CmdClause) func(ctx context.Context) int {
			listen := cmd.Flag("listen", "Loopback address to listen on.").Default("127.0.0.1:9092").String()
			topics := cmd.Flag("topics", "Comma-separated topics to create (others are auto-created on request).").
				Default(event.DefaultModelTopic + "," + event.DefaultRCATopic).String()
			partitions := cmd.Flag("partitions", "Partitions per topic.").Default("1").Int32()
			return func(ctx context.Context) int {
				var ts []string
				for _, t := range strings.Split(*topics, ",") {
					if t = strings.TrimSpace(t); t != "" {
						ts = append(ts, t)
					}
				}
				b, err := kafka.StartDevBroker(*listen, *partitions, ts...)
				if err != nil {
					fmt.Fprintln(os.Stderr, "anteater:", err)
					return 1
				}
				fmt.Fprintf(os.Stderr, "kafka broker (kfake, in memory) listening on %s, topics %s\n", b.Addr(), strings.Join(ts, ","))
				<-ctx.Done()
				b.Close()
				fmt.Fprintln(os.Stderr, "kafka broker stopped")
				return 0
			}
		},
	})
}
