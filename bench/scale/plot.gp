# bench/scale's plot (gnuplot, called by bench/scale/run with dir= and png=):
# four panels from the .dat files the run wrote: the model against platform
# size (times and RSS), decisions against a hub VM's connections, and the
# audit log against its size (its open: every entry checked, by stored leaf
# hashes, from the checkpoint's stored frontier, and the rebuild after it).
set terminal pngcairo size 1200,860 font ",9"
set output png
set multiplot layout 2,2 title "lisec scaling curves (bench/scale/run; log-log)"
set logscale xy
set grid
set key top left
set xlabel "VMs (20 per host)"
set ylabel "time"
set title "Model: time against platform size"
plot dir."/platform.dat" using 2:7 with linespoints title "decision p50 (us)", \
     "" using 2:8 with linespoints title "decision p99 (us)", \
     "" using 2:6 with linespoints title "full evaluation (ms)", \
     "" using 2:10 with linespoints title "full evaluation CPU (ms)", \
     "" using 2:5 with linespoints title "load (s)"
set title "Model: RSS against platform size"
set ylabel "MiB"
set key top left
set fit quiet
set fit logfile "/dev/null"
ra = 1; rb = 0.0005
rss(x) = ra + rb * x
fit rss(x) dir."/platform.dat" using 2:9 via ra, rb
set xrange [10000:100000000]
set samples 200
plot dir."/platform.dat" using 2:9 with linespoints title "model RSS (MiB), measured", \
     rss(x) with lines dashtype 3 title "line through the points, extrapolated", \
     24576 with lines dashtype 2 title "24 GiB"
set autoscale x
set title "Decisions moving a hub VM (10k hosts, 200k VMs)"
set xlabel "connections of each of 100 hub VMs"
set ylabel "us"
plot dir."/hubs.dat" using 1:7 with linespoints title "hub decision CPU p50 (us)", \
     "" using 1:8 with linespoints title "hub decision CPU p99 (us)", \
     "" using 1:3 with linespoints title "hub decision wall p50 (us)", \
     "" using 1:4 with linespoints title "hub decision wall p99 (us)"
set title "Audit log against its size"
set key bottom right
set xlabel "entries"
set ylabel "per second / us / MiB"
ma = 1; mb = 0.00001
mem(x) = ma + mb * x
fit mem(x) dir."/audit.dat" using 1:4 via ma, mb
set xrange [100000:1000000000]
plot dir."/audit.dat" using 1:6 with linespoints title "durable appends/s (64 writers)", \
     mem(x) with lines dashtype 3 title "appender memory, line extrapolated (MiB)", \
     dir."/audit.dat" using 1:11 with linespoints title "inclusion proof p50 (us)", \
     dir."/audit.dat" using 1:7 with linespoints title "inclusion proof p99 (us)", \
     dir."/audit.dat" using 1:9 with linespoints title "proof by leaf hash p50 (us)", \
     dir."/audit.dat" using 1:4 with linespoints title "appender memory (MiB)", \
     dir."/audit.dat" using 1:($15*1000) with linespoints title "open, every entry checked: CPU (ms)", \
     dir."/audit.dat" using 1:($17*1000) with linespoints title "open by stored leaf hashes: CPU (ms)", \
     dir."/audit.dat" using 1:($13*1000) with linespoints title "open from checkpoint frontier: CPU (ms)", \
     dir."/audit.dat" using 1:($19*1000) with linespoints title "tree rebuilt after that open: CPU (ms)"
unset multiplot
