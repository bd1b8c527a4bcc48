from trainwright.cli import main

main()
