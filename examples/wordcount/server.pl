#!/usr/bin/perl
# wordcount: an `exec` function in Perl. Any program that serves HTTP on $PORT works; Kumo
# routes to it once the port answers. It counts the words of the request body:
#   curl -s --data-binary 'the quick brown fox' http://127.0.0.1:8080/fn/wordcount/
use strict;
use warnings;
use IO::Socket::INET;

my $server = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1', LocalPort => $ENV{PORT}, Listen => 16, ReuseAddr => 1,
) or die "cannot listen on $ENV{PORT}: $!";

while (my $client = $server->accept) {
    while (1) {  # keep-alive: serve requests until the client closes
        my $request_line = <$client>;
        last unless defined $request_line;
        my %headers;
        while (my $line = <$client>) {
            $line =~ s/\r?\n$//;
            last if $line eq '';
            my ($k, $v) = split /:\s*/, $line, 2;
            $headers{lc $k} = $v;
        }
        my $body = '';
        read($client, $body, $headers{'content-length'}) if $headers{'content-length'};
        my @words = grep { length } split /[^A-Za-z0-9]+/, $body;
        my %count;
        $count{lc $_}++ for @words;
        my $top = join ',', map { "\"$_\":$count{$_}" } sort keys %count;
        my $json = sprintf('{"words":%d,"distinct":%d,"counts":{%s},"pid":%d}',
                           scalar @words, scalar keys %count, $top, $$);
        print $client "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
                      "Content-Length: ", length($json), "\r\n\r\n", $json;
    }
    close $client;
}
