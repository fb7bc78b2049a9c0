// Transport, logistics, public safety, agriculture and the environment. Written for jobbert; one title per line: en | de | es | zh
export default `
truck driver | Lkw-Fahrer | camionero | 卡车司机
bus driver | Busfahrer | conductor de autobús | 公交车司机
taxi driver | Taxifahrer | taxista | 出租车司机
delivery driver | Auslieferungsfahrer | repartidor | 送货司机
courier | Kurier | mensajero | 快递员
train driver | Lokführer | maquinista de tren | 火车司机
tram driver | Straßenbahnfahrer | conductor de tranvía | 有轨电车司机
airline pilot | Verkehrspilot | piloto de línea aérea | 民航飞行员
helicopter pilot | Hubschrauberpilot | piloto de helicóptero | 直升机飞行员
air traffic controller | Fluglotse | controlador aéreo | 空中交通管制员
ship captain | Kapitän | capitán de barco | 船长
sailor | Matrose | marinero | 水手
dock worker | Hafenarbeiter | estibador | 码头工人
forklift driver | Staplerfahrer | carretillero | 叉车司机
warehouse worker | Lagerarbeiter | mozo de almacén | 仓库工人
warehouse manager | Lagerleiter | jefe de almacén | 仓库经理
picker and packer | Kommissionierer | preparador de pedidos | 拣货打包员
logistics manager | Logistikleiter | responsable de logística | 物流经理
logistics coordinator | Logistikkoordinator | coordinador de logística | 物流协调员
freight forwarder | Spediteur | transitario | 货运代理
dispatcher | Disponent | despachador | 调度员
fleet manager | Fuhrparkleiter | responsable de flota | 车队经理
customs broker | Zollagent | agente de aduanas | 报关员
postal worker | Postbote | cartero | 邮递员
moving company worker | Umzugshelfer | operario de mudanzas | 搬家工人
railway worker | Gleisbauer | operario ferroviario | 铁路工人
train conductor | Zugbegleiter | revisor de tren | 列车员
police officer | Polizist | agente de policía | 警察
detective | Kriminalbeamter | detective | 侦探
firefighter | Feuerwehrmann | bombero | 消防员
security guard | Wachmann | vigilante de seguridad | 保安
prison officer | Justizvollzugsbeamter | funcionario de prisiones | 狱警
soldier | Soldat | soldado | 士兵
military officer | Offizier | oficial del ejército | 军官
customs officer | Zollbeamter | agente de aduanas y aduanero | 海关关员
border guard | Grenzschutzbeamter | guardia de fronteras | 边防警察
emergency dispatcher | Leitstellendisponent | operador de emergencias | 急救调度员
farmer | Landwirt | agricultor | 农民
farm worker | Landarbeiter | peón agrícola | 农场工人
agricultural engineer | Agraringenieur | ingeniero agrónomo | 农业工程师
livestock farmer | Viehzüchter | ganadero | 畜牧农民
dairy farmer | Milchbauer | productor de leche | 奶农
winemaker | Winzer | enólogo | 酿酒师
horticulturist | Gartenbauer | horticultor | 园艺师
forester | Förster | guardabosques | 林务员
forestry worker | Forstwirt | trabajador forestal | 林业工人
fisherman | Fischer | pescador | 渔民
beekeeper | Imker | apicultor | 养蜂人
tractor driver | Traktorfahrer | tractorista | 拖拉机司机
environmental consultant | Umweltberater | consultor ambiental | 环境顾问
waste collector | Müllwerker | recolector de basura | 垃圾收集工
recycling worker | Recyclingarbeiter | operario de reciclaje | 回收工人
water treatment operator | Fachkraft für Wasserversorgungstechnik | operador de planta de tratamiento de agua | 水处理操作员
park ranger | Parkranger | guarda de parque natural | 公园护林员
`;
