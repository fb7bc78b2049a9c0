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
van driver | Transporterfahrer | conductor de furgoneta | 面包车司机
tanker driver | Tankwagenfahrer | conductor de camión cisterna | 油罐车司机
coach driver | Reisebusfahrer | conductor de autocar | 长途大巴司机
ride-hailing driver | Fahrdienstfahrer | conductor de VTC | 网约车司机
food delivery rider | Essenslieferant | repartidor de comida a domicilio | 外卖骑手
bicycle courier | Fahrradkurier | mensajero en bicicleta | 自行车快递员
co-pilot | Co-Pilot | copiloto | 副驾驶
airport ground staff | Bodenpersonal | personal de tierra | 机场地勤人员
baggage handler | Gepäckabfertiger | manipulador de equipajes | 行李搬运员
ship's engineer | Schiffsingenieur | maquinista naval | 轮机员
deckhand | Decksmann | marinero de cubierta | 甲板水手
harbour pilot | Lotse | práctico de puerto | 引航员
inventory clerk | Lagerbuchhalter | administrativo de inventario | 库存管理员
shipping clerk | Versandmitarbeiter | administrativo de expediciones | 发货员
receiving clerk | Wareneingangsmitarbeiter | receptor de mercancías | 收货员
transport planner | Transportplaner | planificador de transporte | 运输计划员
supply chain analyst | Supply-Chain-Analyst | analista de la cadena de suministro | 供应链分析师
demand planner | Bedarfsplaner | planificador de la demanda | 需求计划员
railway signaller | Fahrdienstleiter | responsable de circulación ferroviaria | 铁路信号员
track maintenance worker | Gleisinstandhalter | operario de mantenimiento de vías | 铁路线路养护工
traffic warden | Verkehrsüberwacher | agente de movilidad | 交通协管员
driving examiner | Fahrprüfer | examinador de tráfico | 驾驶考官
bodyguard | Personenschützer | guardaespaldas | 保镖
private investigator | Privatdetektiv | detective privado | 私家侦探
security manager | Sicherheitsmanager | director de seguridad | 安保经理
airport security screener | Luftsicherheitsassistent | vigilante de seguridad aeroportuaria | 机场安检员
CCTV operator | Videoüberwachungsoperator | operador de videovigilancia | 监控员
bouncer | Türsteher | portero de discoteca | 夜店保安
forensic scientist | Kriminaltechniker | científico forense | 刑事技术鉴定员
probation officer | Bewährungshelfer | agente de libertad condicional | 缓刑监督官
fire safety officer | Brandschutzbeauftragter | técnico de prevención de incendios | 消防安全员
coast guard officer | Küstenwachbeamter | guardacostas | 海岸警卫队员
naval officer | Marineoffizier | oficial de marina | 海军军官
administrative officer | Verwaltungsfachangestellter | auxiliar administrativo de la administración pública | 行政办事员
civil registrar | Standesbeamter | encargado del registro civil | 民政登记员
immigration officer | Sachbearbeiter Ausländerbehörde | funcionario de inmigración | 移民官员
agronomist | Agrarwissenschaftler | agrónomo | 农艺师
vineyard worker | Weinbergarbeiter | trabajador de viñedo | 葡萄园工人
fruit picker | Erntehelfer | recolector de fruta | 水果采摘工
poultry farmer | Geflügelhalter | avicultor | 家禽养殖户
pig farmer | Schweinehalter | porcicultor | 养猪户
fish farmer | Fischwirt | piscicultor | 水产养殖户
shepherd | Schäfer | pastor | 牧羊人
greenhouse worker | Gewächshausarbeiter | trabajador de invernadero | 温室工人
tree surgeon | Baumpfleger | arboricultor | 树木养护师
groundskeeper | Platzwart | encargado de mantenimiento de terrenos | 场地维护员
farm manager | landwirtschaftlicher Betriebsleiter | gerente de explotación agrícola | 农场经理
agricultural technician | Agrartechniker | técnico agrícola | 农业技术员
horse groom | Pferdewirt | mozo de cuadra | 马夫
plant nursery worker | Baumschulgärtner | viverista | 苗圃工人
`;
