#!/bin/bash
# SPDX-License-Identifier: MIT
# check-layers.sh [BUILD_DIR]: the library and the tools point down only.
# Ranks come from doc/design.md's layer table (kept here as LAYERS): a file
# may include and call files of a lower rank, or of its own directory; never
# a higher rank, never a sibling directory of the same rank.  No two files
# may call each other, directly or round a loop.  Calls are read from the
# objects' symbol tables (nm), includes from the sources.  One TAP line per
# rule; the offending edges are printed as diagnostics.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/tap-lib.sh"
b=${1:-${B:-$top/build}}
cd "$top"
# directory (or file) : rank.  The longest matching prefix wins.
LAYERS="
lib/util:0
lib/backend:1
lib/trace:2
lib/arena:3
lib/pool:3
lib/numa:4
lib/uring:4
lib/report:5
lib:6
lib/malloc:7
tools:8
"
tap_init layers
objs=$(find "$b/obj/lib" "$b/obj/tools" -name '*.o' 2>/dev/null | sort)
if [ -z "$objs" ]; then
	tap_line fail "objects to read" "no objects under $b/obj: build first (make all)"
	tap_summary
	exit
fi
for o in $objs; do
	src=${o#"$b"/obj/}
	src=${src%.o}.c
	[ -f "$src" ] || src=${src%.c}.cpp # the bench's C++ workloads
	[ -f "$src" ] || continue          # stale object of a moved source
	# lib/malloc defines libc's allocation API (malloc, free, operator
	# new...): the layers below call libc's, whoever serves it; only the
	# library's own names (fa_*) are edges.
	nm --defined-only "$o" | awk -v f="$src" '$2 ~ /^[TDBRVWG]$/ &&
		(f !~ /^lib\/malloc\// || $3 ~ /^fa_/) {print "D", f, $3}'
	nm -u "$o" | awk -v f="$src" '{print "U", f, $2}'
	sed -n 's/^#include "\([^"]*\)".*/I '"${src//\//\\/}"' \1/p' "$src"
done | LAYERS="$LAYERS" perl -e '
	my (%def, @use, @inc, %rank);
	for (split /\s+/, $ENV{LAYERS}) { my ($d, $r) = split /:/; $rank{$d} = $r if length $d; }
	sub rank_of {
		my ($p) = @_;
		my $best = ""; 
		for my $d (keys %rank) { $best = $d if ($p eq $d || index($p, "$d/") == 0) && length $d > length $best; }
		return $best eq "" ? undef : ($best, $rank{$best});
	}
	while (<STDIN>) {
		chomp; my ($k, $f, $x) = split / /;
		if ($k eq "D") { $def{$x} = $f } elsif ($k eq "U") { push @use, [$f, $x] } else { push @inc, [$f, $x] }
	}
	my (%edge, @bad);
	for (@use) { my ($f, $s) = @$_; my $g = $def{$s}; next if !defined $g || $g eq $f; $edge{$f}{$g} = $s; }
	sub dir_of { my ($p) = @_; $p =~ s{/[^/]*$}{}; return $p }
	sub check { my ($f, $g, $what) = @_;
		my ($fd, $fr) = rank_of($f); my ($gd, $gr) = rank_of($g);
		return unless defined $fr && defined $gr;
		return if dir_of($f) eq dir_of($g);
		push @bad, "$f -> $g ($what): rank $fr calls rank $gr" if $gr > $fr || ($gr == $fr && $gd ne $fd);
	}
	for my $f (sort keys %edge) { check($f, $_, $edge{$f}{$_}) for sort keys %{$edge{$f}}; }
	my @badinc;
	for (@inc) { my ($f, $h) = @$_;
		next if $h !~ m{/} || $h =~ m{^uapi/};
		my $p = "lib/$h"; next unless -e $p;
		my ($fd, $fr) = rank_of($f); my ($gd, $gr) = rank_of($p);
		next unless defined $fr && defined $gr;
		push @badinc, "$f includes $h: rank $fr includes rank $gr"
			if dir_of($f) ne dir_of($p) && ($gr > $fr || ($gr == $fr && $gd ne $fd));
	}
	# loops between files: Tarjan over the call graph
	my (%idx, %low, @st, %on, @scc); my $n = 0;
	sub sc { my ($v) = @_; $idx{$v} = $low{$v} = $n++; push @st, $v; $on{$v} = 1;
		for my $w (sort keys %{$edge{$v} || {}}) {
			if (!defined $idx{$w}) { sc($w); $low{$v} = $low{$w} if $low{$w} < $low{$v} }
			elsif ($on{$w}) { $low{$v} = $idx{$w} if $idx{$w} < $low{$v} } }
		if ($low{$v} == $idx{$v}) { my @c; while (1) { my $w = pop @st; delete $on{$w}; push @c, $w; last if $w eq $v }
			push @scc, [sort @c] if @c > 1 } }
	for (sort keys %edge) { sc($_) unless defined $idx{$_} }
	sub tap { my ($ok, $name, @d) = @_;
		print(($ok ? "ok" : "fail"), "|$name\n"); print "#|$_\n" for @d; }
	tap(!@bad, "calls point down only", @bad);
	tap(!@badinc, "includes point down only", @badinc);
	my @loops;
	for my $c (@scc) { push @loops, join(" ", @$c) . " call each other:";
		for my $f (@$c) { for my $g (sort keys %{$edge{$f}}) { push @loops, "  $f -> $g ($edge{$f}{$g})" if grep { $_ eq $g } @$c } } }
	tap(!@scc, "no file calls round a loop", @loops);
' >"$b/layers.out"
while IFS='|' read -r st text; do
	if [ "$st" = '#' ]; then
		echo "# $text"
	else
		tap_line "$st" "$text"
	fi
done <"$b/layers.out"
tap_summary
