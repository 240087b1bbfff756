from unified_bench.cli.app import main

main()
