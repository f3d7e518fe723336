from est2tpu.cli.replay import main

main()
