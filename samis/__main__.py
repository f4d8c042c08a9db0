from samis.cli import main

main()
