from satupintu.cli import main

main()
